import { test } from 'node:test';
import assert from 'node:assert/strict';

import { rocCurve, rocSeries, thinCurve } from '../../src/report/roc.ts';
import { assertSameArray, reportRef, rng, sha256 } from './pyref.ts';

interface Case {
  name: string;
  scores: Float32Array | Float64Array;
  labels: Uint8Array;
  drop: boolean;
}

function makeCases(): Case[] {
  const cases: Case[] = [];
  const r = rng(7);
  const add = (name: string, scores: Float32Array | Float64Array, labels: Uint8Array): void => {
    cases.push({ name: `${name} drop`, scores, labels, drop: true });
    cases.push({ name: `${name} keep`, scores, labels, drop: false });
  };
  add('hand', new Float64Array([0.1, 0.4, 0.35, 0.8]), new Uint8Array([0, 0, 1, 1]));
  add('all tied', new Float32Array([0.5, 0.5, 0.5, 0.5, 0.5]), new Uint8Array([0, 1, 0, 1, 1]));
  add('signed zeros', new Float32Array([-0, 0, 0.5, -0, 1, -1]), new Uint8Array([1, 0, 1, 0, 0, 1]));
  for (const n of [50, 1000, 20000]) {
    const labels = new Uint8Array(n);
    const s32 = new Float32Array(n);
    const s64 = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = r() < 0.3 ? 1 : 0;
      const base = r() + (labels[i] ? 0.4 : 0);
      s32[i] = Math.round(base * 64) / 64; // many ties
      s64[i] = base * 1e-3 - 5;
    }
    add(`f32 ties n=${n}`, s32, labels);
    add(
      `f64 n=${n}`,
      s64,
      labels.map((v) => (v ? 7 : 0)),
    );
  }
  return cases;
}

test('rocCurve equals sklearn.metrics.roc_curve (fpr, tpr, thresholds)', () => {
  const cases = makeCases();
  const refs = reportRef().roc;
  assert.deepEqual(
    refs.map((r) => [r.name, r.drop, r.n]),
    cases.map((c) => [c.name, c.drop, c.scores.length]),
    'reference cases',
  );
  cases.forEach((c, k) => {
    const want = refs[k];
    const what = c.name;
    assert.equal(sha256(Float64Array.from(c.scores), c.labels), want.input_sha256, `${what}: the reference was computed on different inputs`);
    const got = rocCurve(c.scores, c.labels, { dropIntermediate: c.drop });
    assertSameArray(got.fpr, want.fpr, `${what}: fpr`);
    assertSameArray(got.tpr, want.tpr, `${what}: tpr`);
    assert.equal(got.thresholds[0], Infinity);
    // sklearn < 1.3 puts max + 1 first, later versions +inf
    const t0 = want.threshold0;
    const t1 = got.thresholds[1];
    assert.ok(t0 === 'inf' || t0 === t1 + 1 || t0 === Math.fround(t1 + 1), `${what}: ${t0}`);
    // by value: -0 and 0 are one threshold (which of the tied scores sklearn reports is arbitrary)
    assertSameArray(
      got.thresholds.subarray(1).map((t) => t + 0),
      want.thresholds,
      `${what}: thresholds`,
    );
  });
});

test('rocCurve rejects one-class input, NaN and length mismatches', () => {
  assert.throws(() => rocCurve(new Float32Array([1, 2]), new Uint8Array([1, 1])), /both classes/);
  assert.throws(() => rocCurve(new Float32Array([1, NaN]), new Uint8Array([0, 1])), /finite/);
  assert.throws(() => rocCurve(new Float32Array([1, 2, 3]), new Uint8Array([0, 1])), /same length/);
});

test('thinCurve keeps the end points and stays within tolerance of the full curve', () => {
  const r = rng(3);
  const n = 200000;
  const labels = new Uint8Array(n);
  const s = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = r() < 0.1 ? 1 : 0;
    s[i] = r() + (labels[i] ? 0.5 : 0);
  }
  const full = rocCurve(s, labels);
  const tol = 1e-3;
  const thin = thinCurve(full.fpr, full.tpr, tol);
  assert.ok(full.fpr.length > 10000, `full curve has ${full.fpr.length} points`);
  assert.ok(thin.fpr.length < 4 / tol, `thinned to ${thin.fpr.length} points`);
  assert.deepEqual([thin.fpr[0], thin.tpr[0]], [0, 0]);
  assert.deepEqual([thin.fpr.at(-1), thin.tpr.at(-1)], [1, 1]);
  // every original point is within tol (per axis) of the thinned polyline's vertices it lies between
  let j = 0;
  for (let k = 0; k < full.fpr.length; k++) {
    while (j + 1 < thin.fpr.length && thin.fpr[j + 1] <= full.fpr[k] && thin.tpr[j + 1] <= full.tpr[k]) j++;
    assert.ok(Math.abs(full.fpr[k] - thin.fpr[j]) < tol && Math.abs(full.tpr[k] - thin.tpr[j]) < tol, `point ${k}`);
  }
  // area of the thinned curve is close to the exact AUROC
  const series = rocSeries('pixels', s, labels, tol);
  let area = 0;
  for (let k = 1; k < series.fpr.length; k++) area += ((series.fpr[k] - series.fpr[k - 1]) * (series.tpr[k] + series.tpr[k - 1])) / 2;
  assert.ok(Math.abs(area - (series.auroc ?? NaN)) < 2 * tol, `area ${area} vs AUROC ${series.auroc}`);
});
