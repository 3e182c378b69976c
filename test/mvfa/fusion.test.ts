import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fuseResults } from '../../src/engine/predict.ts';
import { type BranchScores, type Calibration, fuseCalibrated, fuseRun, runRanges, unionRanges } from '../../src/mvfa/fusion.ts';
import { fixture } from '../support/fixtures.ts';

// Expected values: fixtures/fusion/cases.json, computed by numpy from the official code's lines
// (scripts/fixtures/fusion_ref.py), never by the code under test.
interface Scores {
  scores: number[];
  maps?: number[];
}
interface Cases {
  n: number;
  size: number;
  inputs: { zero_seg: number[]; few_seg: number[]; few_det: number[]; zero_det: number[] };
  run: { acas: Scores; ac: Scores; zero: Scores };
  calibrated: { images: number[]; ranges: Record<'zeroSeg' | 'fewSeg' | 'zeroDet' | 'fewDet', [number, number]>; acas: Scores; ac: Scores };
}
const ref = JSON.parse(readFileSync(fixture('fusion', 'cases.json'), 'utf8')) as Cases;
const px = ref.size * ref.size;
const slice = (a: number[], i: number) => Float32Array.from(a.slice(i * px, (i + 1) * px));
const raws = (heads: ('seg' | 'det')[]): BranchScores[] =>
  Array.from({ length: ref.n }, (_, i) => ({
    zeroSeg: slice(ref.inputs.zero_seg, i),
    zeroDet: ref.inputs.zero_det[i],
    fewSeg: heads.includes('seg') ? slice(ref.inputs.few_seg, i) : undefined,
    fewDet: heads.includes('det') ? slice(ref.inputs.few_det, i) : undefined,
  }));

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const maps = (f: { map: Float32Array }[]) => f.flatMap((x) => Array.from(x.map));

test('run rule, AC+AS with a seg memory bank: fused maps bit-identical to numpy, image score = max of the map', (t) => {
  const { fused, rule } = fuseRun(raws(['seg']), 'AC+AS');
  assert.deepEqual(rule, { kind: 'run-min-max', images: ref.n });
  const eMap = maxAbs(maps(fused), ref.run.acas.maps!);
  const eScore = maxAbs(
    fused.map((f) => f.score),
    ref.run.acas.scores,
  );
  t.diagnostic(`map error ${eMap}, score error ${eScore}`);
  assert.equal(eMap, 0);
  assert.equal(eScore, 0);
});

test('run rule, AC with a det memory bank: scores = 0.5·norm(c_zero) + 0.5·norm(mean few_det) as numpy (float32 there)', (t) => {
  const { fused } = fuseRun(raws(['det']), 'AC');
  const e = maxAbs(
    fused.map((f) => f.score),
    ref.run.ac.scores,
  );
  t.diagnostic(`score error ${e.toExponential(2)} (numpy rounds these scalars to float32, the port keeps float64)`);
  assert.ok(e < 1e-6, `score error ${e}`);
});

test('run rule, AC with both memory-bank heads (full dumps): the seg bank does not enter, the map is norm(zero_seg)', () => {
  const { fused } = fuseRun(raws(['seg', 'det']), 'AC');
  assert.equal(maxAbs(maps(fused), ref.run.zero.maps!), 0);
  assert.ok(
    maxAbs(
      fused.map((f) => f.score),
      ref.run.ac.scores,
    ) < 1e-6,
  );
});

test('run rule without a memory bank (zero-shot mode): raw det score, seg map normalised over the run', (t) => {
  for (const task of ['AC+AS', 'AC'] as const) {
    const { fused } = fuseRun(raws([]), task);
    assert.deepEqual(
      fused.map((f) => f.score),
      ref.run.zero.scores,
    );
    const e = maxAbs(maps(fused), ref.run.zero.maps!);
    t.diagnostic(`${task}: map error ${e}`);
    assert.equal(e, 0);
  }
});

test('stored calibration: the same formula with stored ranges, values outside them not clipped', (t) => {
  const r = ref.calibrated.ranges;
  const range = (k: keyof typeof r) => ({ min: r[k][0], max: r[k][1] });
  const ranges = { zeroSeg: range('zeroSeg'), fewSeg: range('fewSeg'), zeroDet: range('zeroDet'), fewDet: range('fewDet') };
  const acas: Calibration = { task: 'AC+AS', ...ranges, source: 'images 0–2' };
  const seg = ref.calibrated.images.map((i) => fuseCalibrated(raws(['seg'])[i], acas));
  const eMap = maxAbs(maps(seg), ref.calibrated.acas.maps!);
  assert.equal(eMap, 0);
  assert.equal(
    maxAbs(
      seg.map((f) => f.score),
      ref.calibrated.acas.scores,
    ),
    0,
  );
  const outside = ref.calibrated.images.some((i) => raws([])[i].zeroSeg.some((v) => v < ranges.zeroSeg.min || v > ranges.zeroSeg.max));
  assert.ok(outside, 'the example has values outside the stored ranges');
  const det = ref.calibrated.images.map((i) => fuseCalibrated(raws(['det'])[i], { ...acas, task: 'AC' }));
  const e = maxAbs(
    det.map((f) => f.score),
    ref.calibrated.ac.scores,
  );
  t.diagnostic(`AC+AS map error ${eMap}; AC score error ${e.toExponential(2)}`);
  assert.ok(e < 1e-6);
  // fuseResults picks the stored calibration when the model has one, image by image.
  const via = fuseResults(
    ref.calibrated.images.map((i) => raws(['seg'])[i]),
    { task: 'AC+AS', calibration: acas },
  );
  assert.equal(via.rule.kind, 'calibration');
  assert.deepEqual(
    via.predictions.map((p) => p.score),
    seg.map((f) => f.score),
  );
});

test('a run split in shards: the union of per-shard ranges gives the ranges, and the scores, of the whole run', () => {
  const all = raws(['seg']);
  const merged = unionRanges(runRanges(all.slice(0, 2)), runRanges(all.slice(2)));
  assert.deepEqual(merged, runRanges(all));
  // Order does not matter: the rule over a permutation gives the same score per image.
  const order = [3, 0, 4, 2, 1];
  const perm = fuseRun(
    order.map((i) => all[i]),
    'AC+AS',
  ).fused.map((f) => f.score);
  order.forEach((i, k) => assert.equal(perm[k], ref.run.acas.scores[i]));
});

test('bad input: empty runs and non-finite scores are refused with the array and index', () => {
  assert.throws(() => fuseRun([], 'AC+AS'), /at least one/);
  const bad = raws([]);
  bad[2].zeroSeg[7] = NaN;
  assert.throws(() => fuseRun(bad, 'AC+AS'), /array 2: score NaN at index 7/);
});
