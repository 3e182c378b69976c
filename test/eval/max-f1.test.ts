import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AurocAccumulator, maxF1 } from '../../src/eval/index.ts';
import { scoreCases, type Case } from './score-cases.ts';
import { assertSameInput, evalReference } from './reference.ts';

interface SklearnResult {
  max_f1: number | null;
  max_f1_error: string | null;
  scores_sha256: string;
  labels_sha256: string;
}

// The two largest cases are covered by the AUROC tests; the store path is exercised below by the
// streaming accumulator.
const cases: Case[] = scoreCases().filter((c) => c.name !== 'ties_1e6_f32' && c.name !== 'large_store_path');
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

test('maxF1 matches max F1 over sklearn precision_recall_curve to 1e-9', (t) => {
  let worst = 0;
  let checked = 0;
  for (const c of cases) {
    const expected = sklearn[c.name].max_f1;
    if (expected === null || c.name.startsWith('one_class')) continue;
    const got = maxF1(c.scores, c.labels);
    const err = Math.abs(got - expected);
    worst = Math.max(worst, err);
    assert.ok(err <= 1e-9, `${c.name}: got ${got}, sklearn ${expected}`);
    checked++;
  }
  assert.ok(checked >= 11);
  t.diagnostic(`max |maxF1 - sklearn| = ${worst.toExponential(2)} over ${checked} cases`);
});

test('streaming maxF1 equals the one-shot value', () => {
  for (const c of cases) {
    if (c.name === 'one_class_negative' || !(c.scores instanceof Float32Array)) continue;
    const acc = new AurocAccumulator();
    for (let from = 0; from < c.scores.length; from += 4099) {
      acc.add(c.scores.subarray(from, from + 4099), c.labels.subarray(from, from + 4099));
    }
    assert.equal(acc.maxF1(), maxF1(c.scores, c.labels), c.name);
  }
});

test('all-positive input has F1 = 1 (as sklearn); no positive throws where sklearn warns and says 0', () => {
  const allPositive = cases.find((c) => c.name === 'one_class_positive') as Case;
  assert.equal(sklearn.one_class_positive.max_f1, 1);
  assert.equal(maxF1(allPositive.scores, allPositive.labels), 1);
  const noPositive = cases.find((c) => c.name === 'one_class_negative') as Case;
  assert.equal(sklearn.one_class_negative.max_f1, 0);
  assert.throws(() => maxF1(noPositive.scores, noPositive.labels), /positive/);
});

test('small hand-checked values and errors', () => {
  // Threshold 0.8 -> TP 1, FP 0, FN 1: F1 = 2/3; threshold 0.4 -> TP 2, FP 1: F1 = 0.8.
  assert.equal(maxF1(new Float32Array([0.8, 0.4, 0.4, 0.1]), new Uint8Array([1, 1, 0, 0])), 0.8);
  assert.throws(() => maxF1(new Float64Array([0.1, NaN]), new Uint8Array([0, 1])), /NaN at index 1/);
  assert.throws(() => maxF1(new Float64Array([0.1]), new Uint8Array([0, 1])), /same length/);
});
