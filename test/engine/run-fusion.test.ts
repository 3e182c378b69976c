import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuseResults } from '../../src/engine/predict.ts';
import { RunFusion } from '../../src/engine/run-fusion.ts';
import { type BranchScores, type Task } from '../../src/mvfa/fusion.ts';
import { mulberry32Words } from '../support/seeded.ts';

// The run-level rule from running ranges and spilled maps gives the numbers of `fuseResults` over the whole run.
function raws(n: number, size: number, branches: { fewSeg: boolean; fewDet: boolean }, seed: number): BranchScores[] {
  const words = mulberry32Words(seed, n * (3 * size * size + 1));
  let at = 0;
  const map = () => Float32Array.from({ length: size * size }, () => (words[at++] / 2 ** 32) * 3 - 1);
  return Array.from({ length: n }, () => ({
    zeroSeg: map(),
    zeroDet: words[at++] / 2 ** 32,
    ...(branches.fewSeg ? { fewSeg: map() } : {}),
    ...(branches.fewDet ? { fewDet: map() } : {}),
  }));
}

for (const [task, branches] of [
  ['AC+AS', { fewSeg: true, fewDet: false }],
  ['AC+AS', { fewSeg: true, fewDet: true }],
  ['AC', { fewSeg: false, fewDet: true }],
  ['AC+AS', { fewSeg: false, fewDet: false }],
] as [Task, { fewSeg: boolean; fewDet: boolean }][]) {
  test(`${task} ${JSON.stringify(branches)}: scores and maps equal fuseResults over the run`, async () => {
    const all = raws(7, 6, branches, task.length + (branches.fewSeg ? 10 : 0) + (branches.fewDet ? 20 : 0));
    const want = fuseResults(all, { task, calibration: null });
    const parent = mkdtempSync(join(tmpdir(), 'mvfa-run-fusion-'));
    const run = await RunFusion.open(task, parent);
    try {
      for (const r of all) await run.add(r);
      assert.deepEqual(run.rule, want.rule);
      for (let k = 0; k < all.length; k++) {
        const p = await run.fuse(k);
        assert.equal(p.score, want.predictions[k].score, `image ${k}: score`);
        assert.deepEqual(p.map, want.predictions[k].map, `image ${k}: map`);
      }
    } finally {
      await run.close();
    }
    assert.ok(!existsSync(run.dir), 'the spill folder is removed');
  });
}
