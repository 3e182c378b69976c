import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AurocAccumulator, aurocExact, ONE_CLASS_MESSAGE } from '../../src/eval/index.ts';
import { BucketedKeyStore } from '../../src/eval/bucketed-key-store.ts';
import { aurocOfGroups } from '../../src/eval/group-metrics.ts';
import { scoreCases, type Case } from './score-cases.ts';
import { assertSameInput, evalReference } from './reference.ts';

interface SklearnResult {
  auroc: number | null;
  auroc_error: string | null;
  scores_sha256: string;
  labels_sha256: string;
}

const cases: Case[] = scoreCases();
let sklearn: Record<string, SklearnResult> = {};

before(() => {
  sklearn = evalReference('sklearn.json');
});

test('the scikit-learn references were computed on these very inputs', () => {
  for (const c of cases) {
    assertSameInput(c.scores, sklearn[c.name]?.scores_sha256, `${c.name} scores`);
    assertSameInput(c.labels, sklearn[c.name]?.labels_sha256, `${c.name} labels`);
  }
});

test('aurocExact matches sklearn roc_auc_score to 1e-9 on every case', (t) => {
  let worst = 0;
  for (const c of cases) {
    const expected = sklearn[c.name];
    if (expected.auroc === null) continue;
    const got = aurocExact(c.scores, c.labels);
    const err = Math.abs(got - expected.auroc);
    worst = Math.max(worst, err);
    assert.ok(err <= 1e-9, `${c.name}: got ${got}, sklearn ${expected.auroc} (|diff| ${err})`);
  }
  t.diagnostic(`max |aurocExact - sklearn| = ${worst.toExponential(2)} over ${cases.length} cases`);
});

test('the reference set covers the intended shapes', () => {
  const names = new Set(cases.map((c) => c.name));
  for (const n of ['ties_1e6_f32', 'ties_1e5_f64', 'separated', 'inverted', 'signed_zeros', 'large_store_path']) {
    assert.ok(names.has(n), n);
  }
  assert.equal(sklearn.separated.auroc, 1);
  assert.equal(sklearn.inverted.auroc, 0);
});

test("single-class input throws sklearn's error message", () => {
  let checked = 0;
  for (const c of cases) {
    const expected = sklearn[c.name];
    if (expected.auroc !== null) continue;
    assert.equal(expected.auroc_error, ONE_CLASS_MESSAGE);
    assert.throws(() => aurocExact(c.scores, c.labels), { message: ONE_CLASS_MESSAGE });
    const acc = new AurocAccumulator();
    acc.add(Float32Array.from(c.scores), c.labels);
    assert.throws(() => acc.result(), { message: ONE_CLASS_MESSAGE });
    checked++;
  }
  assert.equal(checked, 2);
});

test('streaming over many uneven chunks gives exactly the one-shot value', () => {
  for (const c of cases) {
    if (sklearn[c.name].auroc === null || !(c.scores instanceof Float32Array)) continue;
    const acc = new AurocAccumulator();
    let from = 0;
    for (let k = 0; from < c.scores.length; k++) {
      const size = [0, 1, 7, 1000, 57_600, 3][k % 6];
      acc.add(c.scores.subarray(from, from + size), c.labels.subarray(from, from + size));
      from += size;
    }
    assert.equal(acc.count, c.scores.length);
    assert.equal(acc.result(), aurocExact(c.scores, c.labels), c.name);
    assert.ok(Math.abs(acc.result() - (sklearn[c.name].auroc as number)) <= 1e-9, c.name);
  }
});

test('slab changes in the store keep the result exact', () => {
  const c = cases.find((x) => x.name === 'wide_exponents') as Case;
  const small = new BucketedKeyStore({ first: 4 * 1024, later: 16 * 1024 });
  for (let from = 0; from < c.scores.length; from += 5000) {
    small.add(c.scores.subarray(from, from + 5000) as Float32Array, c.labels.subarray(from, from + 5000));
  }
  assert.ok(small.slabCount > 3, `only ${small.slabCount} slabs`);
  const expected = sklearn.wide_exponents.auroc as number;
  assert.ok(Math.abs(aurocOfGroups(small) - expected) <= 1e-9);
  assert.equal(aurocOfGroups(small), aurocExact(c.scores, c.labels));
});

test('float64 ties are float64 equality, not float32', () => {
  // 1 and 1 + 2^-40 are one float32 value but two float64 values.
  const scores = new Float64Array([1, 1 + 2 ** -40, 1, 1 + 2 ** -40]);
  const labels = new Uint8Array([0, 1, 0, 1]);
  assert.equal(aurocExact(scores, labels), 1);
  assert.equal(aurocExact(Float32Array.from(scores), labels), 0.5);
});

test('tiny inputs', () => {
  assert.equal(aurocExact(new Float32Array([0.5, 0.5]), new Uint8Array([0, 1])), 0.5);
  assert.equal(aurocExact(new Float32Array([0, 1]), new Uint8Array([0, 1])), 1);
  assert.equal(aurocExact(new Float64Array([1, 0]), new Uint8Array([0, 1])), 0);
  assert.equal(aurocExact(new Float32Array([-0, 0]), new Uint8Array([1, 0])), 0.5);
  assert.equal(aurocExact(new Float32Array([0.2, 0.1, 0.3]), new Uint8Array([0, 0, 255])), 1);
});

test('errors: NaN, infinity, length mismatch, empty', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const Ctor of [Float32Array, Float64Array]) {
      const scores = new Ctor([0.1, 0.2, bad, 0.4]);
      assert.throws(() => aurocExact(scores, new Uint8Array([0, 1, 0, 1])), /finite.*index 2/);
    }
  }
  const big = new Float32Array((1 << 20) + 10).fill(0.5);
  big[(1 << 20) + 3] = NaN;
  assert.throws(() => aurocExact(big, new Uint8Array(big.length)), new RegExp(`index ${(1 << 20) + 3}`));
  assert.throws(() => aurocExact(new Float32Array(3), new Uint8Array(2)), /same length.*3.*2/);
  assert.throws(() => aurocExact(new Float32Array(0), new Uint8Array(0)), /empty/);
});

test('a rejected chunk leaves the accumulator unchanged', () => {
  const acc = new AurocAccumulator();
  acc.add(new Float32Array([0.1, 0.9]), new Uint8Array([0, 1]));
  assert.throws(() => acc.add(new Float32Array([0.95, NaN]), new Uint8Array([0, 0])), /NaN at index 1/);
  assert.throws(() => acc.add(new Float32Array([0.95]), new Uint8Array([0, 0])), /same length/);
  assert.equal(acc.count, 2);
  assert.equal(acc.result(), 1);
});
