import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdapters } from '../../src/mvfa/checkpoint.ts';

// Crash safety and determinism of `mvfa train`: a run killed with SIGKILL and resumed ends bit-identical to an
// uninterrupted run with the same seed; two runs with the same seed give the same adapters and scores.
const dir = mkdtempSync(join(tmpdir(), 'mvfa-resume-'));
const repo = new URL('../../', import.meta.url).pathname;
const busi = join(repo, '../shared/data/BUSI_AD/valid');
const bin = join(repo, 'bin/mvfa.js');
const env = { ...process.env, MVFA_CACHE: join(dir, 'cache') };
let args: string[];

before(() => {
  execFileSync('/usr/bin/python3', [join(repo, 'scripts/fixtures/clip_ref.py'), dir]);
  for (const sub of ['normal', 'abnormal', 'masks']) mkdirSync(join(dir, sub));
  for (const f of readdirSync(join(busi, 'good/img')).sort().slice(0, 2)) copyFileSync(join(busi, 'good/img', f), join(dir, 'normal', f));
  for (const f of readdirSync(join(busi, 'Ungood/img')).sort().slice(0, 2)) {
    copyFileSync(join(busi, 'Ungood/img', f), join(dir, 'abnormal', f));
    copyFileSync(join(busi, 'Ungood/anomaly_mask', f), join(dir, 'masks', f));
  }
  args = [
    'train',
    '--clip',
    join(dir, 'tiny.safetensors'),
    '--organ',
    'breast ultrasound',
    '--normal',
    join(dir, 'normal'),
    '--abnormal',
    join(dir, 'abnormal'),
    '--masks',
    join(dir, 'masks'),
    '--levels',
    '1,2',
    '--image-size',
    '56',
    '--epochs',
    '40',
    '--seed',
    '7',
    '--quiet',
  ];
});

async function same(a: string, b: string): Promise<void> {
  const x = (await loadAdapters(a)).adapters;
  const y = (await loadAdapters(b)).adapters;
  for (const head of ['seg', 'det'] as const) {
    x[head].forEach((p, j) => {
      for (const fc of ['fc1', 'fc2'] as const) {
        assert.ok(Buffer.from(p[fc].buffer).equals(Buffer.from(y[head][j][fc].buffer)), `${head}.${j}.${fc} differs`);
      }
    });
  }
}

test('same seed → bit-identical adapters (determinism)', async () => {
  for (const name of ['a', 'b']) {
    const r = spawnSync(process.execPath, [bin, ...args, '--epochs', '3', '--out', join(dir, `${name}.safetensors`)], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  await same(join(dir, 'a.safetensors'), join(dir, 'b.safetensors'));
});

test('kill -9 during training, then --resume: bit-identical to an uninterrupted run', async (t) => {
  const full = spawnSync(process.execPath, [bin, ...args, '--out', join(dir, 'full.safetensors')], { env, encoding: 'utf8' });
  assert.equal(full.status, 0, full.stderr);
  const out = join(dir, 'killed.safetensors');
  const child = spawn(process.execPath, [bin, ...args, '--out', out], { env, stdio: 'ignore' });
  const t0 = Date.now();
  while (!existsSync(`${out}.state`) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(!existsSync(out), 'the killed run must not have finished');
  assert.ok(existsSync(`${out}.state`), 'an epoch checkpoint exists');
  const resumed = spawnSync(process.execPath, [bin, ...args, '--out', out, '--resume'], { env, encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  const m = /resuming after epoch (\d+) of 40/.exec(resumed.stderr);
  assert.ok(m && Number(m[1]) >= 1 && Number(m[1]) < 40, `the run resumed from its checkpoint (${resumed.stderr})`);
  t.diagnostic(`killed after epoch ${m![1]} of 40`);
  await same(out, join(dir, 'full.safetensors'));
  assert.ok(!existsSync(`${out}.state`));
});
