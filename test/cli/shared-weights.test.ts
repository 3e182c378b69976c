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

// --shared-weights feeds one host copy of the weights to every graph instead of sessions that own and pre-pack
// theirs (read from the checkpoint file): same numbers up to GEMM rounding.
test('--shared-weights gives the embeddings of the default (session-owned weights read from the file) to 1e-5', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-shared-weights-'));
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
  run([], join(dir, 'owned.npy'));
  run(['--shared-weights'], join(dir, 'shared.npy'));
  const a = toFloat32(await readNpy(join(dir, 'owned.npy')));
  const b = toFloat32(await readNpy(join(dir, 'shared.npy')));
  assert.equal(a.length, b.length);
  assert.ok(a.length > 0);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  assert.ok(e <= 1e-5, `max abs difference ${e}`);
  // The hidden model file written beside the weights for onnxruntime is gone.
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('.mvfa-graph-')),
    [],
  );
});

test('--shared-weights with an accelerator is a usage error', () => {
  const r = spawnSync(
    process.execPath,
    [join(REPO, 'bin/mvfa.js'), '--shared-weights', '--device', 'webgpu', 'embed', '--clip', 'x', '--out', 'never.npy', 'y'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--shared-weights is for --device cpu/);
});
