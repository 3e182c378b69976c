import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mvfa, loadClip, loadImageTensor, predict, train } from '../src/index.ts';
import { writeTinyClip } from './support/tiny-clip.ts';
import { FROZEN_LR, REF_ORGAN, REF_SEED, e2eRef, maxAbsDiff, near, officialScore, rangesOf, referenceTrainingSet, refMap, repoPath } from './support/e2e.ts';

// The README's library example on a tiny seeded CLIP (tiny-clip.ts) and the bundled demo BUSI images, then the same
// calls checked against the PyTorch/numpy reference of fixtures/e2e-ref (scripts/fixtures/e2e_ref.py).

test('README library example: loadClip → train → Mvfa.load → setSupport → predict; the score follows the official rule', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-api-'));
  process.env.MVFA_CACHE = join(dir, 'cache');
  try {
    const clipPath = await writeTinyClip(dir, { vlayers: 4 });
    const set = referenceTrainingSet(dir);
    const clip = await loadClip(clipPath);
    const { checkpoint, losses } = await train(clip, {
      organ: 'breast ultrasound',
      normalDir: set.normal,
      abnormalDir: set.abnormal,
      masksDir: set.masks,
      epochs: 1,
      augment: 'none',
      levels: [2, 4],
      imageSize: 56,
      out: join(dir, 'adapters.safetensors'),
    });
    assert.equal(losses.length, 4, 'one step per image: 2 normal + 2 abnormal, one epoch');
    const cal = checkpoint.calibration!;
    assert.equal(cal.task, 'AC+AS');
    const model = await Mvfa.load(clip, join(dir, 'adapters.safetensors'));
    assert.equal(model.imageSize, 56);
    assert.deepEqual(model.adapters.levels, [2, 4]);
    const normals = e2eRef().train.normals.map(repoPath);
    await model.setSupport(await Promise.all(normals.map(async (f) => (await loadImageTensor(f, { size: 56 })).tensor)));
    // The stored calibration is the ranges of the training images' raw outputs with the same memory bank.
    const train4 = [...e2eRef().train.abnormals, ...e2eRef().train.normals].map(repoPath);
    const raws = [];
    for (const f of train4) raws.push((await predict(model, f)).raw);
    const want = rangesOf(raws);
    for (const k of ['zeroSeg', 'fewSeg', 'zeroDet'] as const) {
      near(cal[k]!.min, want[k]!.min, 1e-6, `calibration ${k}.min`);
      near(cal[k]!.max, want[k]!.max, 1e-6, `calibration ${k}.max`);
    }
    const r = await predict(model, repoPath(e2eRef().predict[0].image));
    assert.equal(r.map.length, 56 * 56);
    assert.ok(r.raw.fewSeg, 'AC+AS adapters score with the seg memory bank');
    const expected = officialScore(r.raw, cal, 'AC+AS');
    t.diagnostic(`score ${r.score} vs the rule on its raw outputs ${expected}`);
    near(r.score, expected, 1e-6, 'score');
    await model.release();
    await clip.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('library scores equal the PyTorch/numpy reference (frozen adapters: calibration, raw maps, AC+AS and AC scores)', async (t) => {
  const ref = e2eRef();
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-api-ref-'));
  process.env.MVFA_CACHE = join(dir, 'cache');
  try {
    const clip = await loadClip(await writeTinyClip(dir));
    const set = referenceTrainingSet(dir);
    const common = { organ: REF_ORGAN, epochs: 1, lr: FROZEN_LR, augment: 'none' as const, shuffle: false, seed: REF_SEED, levels: [1, 2], imageSize: 56 };
    const normals = await Promise.all(ref.train.normals.map(async (f) => (await loadImageTensor(repoPath(f), { size: 56 })).tensor));
    // AC+AS (with masks): calibration and the max of the fused map.
    const acas = await train(clip, { ...common, normalDir: set.normal, abnormalDir: set.abnormal, masksDir: set.masks, out: join(dir, 'acas.safetensors') });
    const cal = acas.checkpoint.calibration!;
    let worst = 0;
    for (const k of ['zeroSeg', 'fewSeg', 'zeroDet', 'fewDet'] as const)
      for (const end of ['min', 'max'] as const) worst = Math.max(worst, near(cal[k]![end], ref.train.calibration[k][end], 2e-5, `calibration ${k}.${end}`));
    t.diagnostic(`calibration ranges: max error ${worst.toExponential(2)}`);
    const model = await Mvfa.load(clip, join(dir, 'acas.safetensors'));
    await model.setSupport(normals);
    let scoreErr = 0;
    let mapErr = 0;
    for (const [i, p] of ref.predict.entries()) {
      const r = await predict(model, repoPath(p.image));
      scoreErr = Math.max(scoreErr, near(r.score, p.score_acas, 5e-5, `${p.image}: AC+AS score`));
      near(r.raw.zeroDet, p.zero_det, 2e-5, `${p.image}: zero_det`);
      mapErr = Math.max(mapErr, maxAbsDiff(r.raw.zeroSeg, await refMap(i, 0), 'zero_seg'), maxAbsDiff(r.raw.fewSeg!, await refMap(i, 1), 'few_seg'));
    }
    t.diagnostic(`AC+AS scores: max error ${scoreErr.toExponential(2)}; zero_seg/few_seg maps: max error ${mapErr.toExponential(2)}`);
    assert.ok(mapErr <= 2e-5, `maps differ by ${mapErr}`);
    await model.release();
    // AC (no masks): the fused det scores.
    const ac = await train(clip, { ...common, normalDir: set.normal, abnormalDir: set.abnormal, out: join(dir, 'ac.safetensors') });
    assert.equal(ac.checkpoint.calibration!.task, 'AC');
    const acModel = await Mvfa.load(clip, join(dir, 'ac.safetensors'));
    await acModel.setSupport(normals);
    let acErr = 0;
    for (const p of ref.predict) {
      const r = await predict(acModel, repoPath(p.image));
      acErr = Math.max(acErr, near(r.score, p.score_ac, 5e-5, `${p.image}: AC score`));
    }
    t.diagnostic(`AC scores: max error ${acErr.toExponential(2)}`);
    await acModel.release();
    await clip.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
