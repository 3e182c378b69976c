import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '../../src/io/weights/npy.ts';
import { toFloat32 } from '../../src/io/weights/tensor.ts';
import { REPO } from '../support/fixtures.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';

// --prepack lets onnxruntime pre-pack each graph's weights (a speed option): same numbers up to GEMM rounding.
test('--prepack gives the embeddings of the shared-weights default (to 1e-5)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-prepack-'));
  const clip = await writeTinyClip(dir);
  const good = join(REPO, 'demo/BUSI_demo_AD/valid/good/img');
  const imgs = readdirSync(good)
    .sort()
    .slice(0, 2)
    .map((f) => join(good, f));
  const run = (extra: string[], out: string) => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/mvfa.js'), '--quiet', ...extra, 'embed', '--clip', clip, '--out', out, ...imgs], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  };
  run([], join(dir, 'shared.npy'));
  run(['--prepack'], join(dir, 'packed.npy'));
  const a = toFloat32(await readNpy(join(dir, 'shared.npy')));
  const b = toFloat32(await readNpy(join(dir, 'packed.npy')));
  assert.equal(a.length, b.length);
  assert.ok(a.length > 0);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  assert.ok(e <= 1e-5, `max abs difference ${e}`);
});
