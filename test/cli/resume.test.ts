import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAdapters } from '../../src/mvfa/checkpoint.ts';
import { REPO } from '../support/fixtures.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';
import { referenceTrainingSet } from '../support/e2e.ts';

// Crash safety and determinism of `mvfa train`: a run killed with SIGKILL and resumed ends bit-identical to an
// uninterrupted run with the same seed; two runs with the same seed give the same adapters and scores. The kill is
// triggered by an event, not by time: MVFA_TEST_HOLD=checkpoint:N (src/util/test-hold.ts) holds the run once the
// resumable state of epoch N is durable, and says so on stderr.
const dir = mkdtempSync(join(tmpdir(), 'mvfa-resume-'));
const bin = join(REPO, 'bin/mvfa.js');
const env = { ...process.env, MVFA_CACHE: join(dir, 'cache') };
const EPOCHS = 6;
const KILL_AFTER = 2;
let args: string[];

before(async () => {
  const clip = await writeTinyClip(dir);
  const set = referenceTrainingSet(dir);
  args = [
    'train',
    '--clip',
    clip,
    '--organ',
    'breast ultrasound',
    '--normal',
    set.normal,
    '--abnormal',
    set.abnormal,
    '--masks',
    set.masks,
    '--levels',
    '1,2',
    '--image-size',
    '56',
    '--epochs',
    String(EPOCHS),
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

test('kill -9 after a durable checkpoint, then --resume: bit-identical to an uninterrupted run', async (t) => {
  const full = spawnSync(process.execPath, [bin, ...args, '--out', join(dir, 'full.safetensors')], { env, encoding: 'utf8' });
  assert.equal(full.status, 0, full.stderr);
  const out = join(dir, 'killed.safetensors');
  const child = spawn(process.execPath, [bin, ...args, '--out', out], {
    env: { ...env, MVFA_TEST_HOLD: `checkpoint:${KILL_AFTER}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Wait for the event (or the end of the process, which is then a failure): no clock decides anything here.
  const held = await new Promise<boolean>((resolve) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes(`mvfa-test-hold checkpoint ${KILL_AFTER}\n`)) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  assert.ok(held, `the run never reported a durable checkpoint of epoch ${KILL_AFTER}: ${stderr}`);
  child.kill('SIGKILL');
  await exited;
  assert.ok(!existsSync(out), 'the killed run must not have finished');
  assert.ok(existsSync(`${out}.state`), 'an epoch checkpoint exists');
  const resumed = spawnSync(process.execPath, [bin, ...args, '--out', out, '--resume'], { env, encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming after epoch ${KILL_AFTER} of ${EPOCHS}\\b`), 'resumed from the checkpoint it was killed after');
  t.diagnostic(`killed after the checkpoint of epoch ${KILL_AFTER} of ${EPOCHS}`);
  await same(out, join(dir, 'full.safetensors'));
  assert.ok(!existsSync(`${out}.state`));
});
