/**
 * Scores reduced to "tie groups": runs of samples in ascending score order, each given by how many
 * positives and negatives it holds. A group is either a set of exactly equal scores, or a run of
 * consecutive scores that all belong to one class (such a run can be merged without changing the
 * ROC curve's area or the best F1, see the metrics in group-metrics.ts).
 */

import { assertFiniteScores, assertSameLength, type ScoreArray } from './score-keys.ts';

/** A sequence of tie groups in ascending score order. */
export interface TieGroupSource {
  /** Total number of positive samples. */
  readonly positives: number;
  /** Total number of negative samples. */
  readonly negatives: number;
  /** Calls `visit(pos, neg)` once per group, lowest scores first. */
  forEachGroup(visit: (pos: number, neg: number) => void): void;
}

/**
 * Scores split by label (0 is negative, any other value positive), each part sorted ascending. Throws a
 * RangeError on a length mismatch or on NaN/±Infinity scores.
 */
export function splitSorted(scores: ScoreArray, labels: Uint8Array): { pos: ScoreArray; neg: ScoreArray } {
  assertSameLength(scores.length, labels.length);
  assertFiniteScores(scores);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) positives++;
  const Ctor = scores instanceof Float32Array ? Float32Array : Float64Array;
  const pos = new Ctor(positives);
  const neg = new Ctor(labels.length - positives);
  let ip = 0;
  let ineg = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0) pos[ip++] = scores[i];
    else neg[ineg++] = scores[i];
  }
  pos.sort();
  neg.sort();
  return { pos, neg };
}

/**
 * Tie groups of a one-shot input, by sorting positives and negatives separately and merging.
 * Ties are exact equality of the stored values (float32 for Float32Array, float64 for Float64Array);
 * -0 and +0 are equal. Labels: 0 is negative, any other value positive.
 */
export function sortedTieGroups(scores: ScoreArray, labels: Uint8Array): TieGroupSource {
  const { pos, neg } = splitSorted(scores, labels);
  return {
    positives: pos.length,
    negatives: neg.length,
    forEachGroup(visit: (pos: number, neg: number) => void): void {
      forEachTie(pos, neg, visit);
    },
  };
}

/**
 * Walks two ascending arrays, calling `visit(pos, neg, value)` once per distinct value, lowest first, with how many
 * elements of each array hold it (=== equality, so -0 == +0).
 */
export function forEachTie(pos: ScoreArray, neg: ScoreArray, visit: (pos: number, neg: number, value: number) => void): void {
  let i = 0;
  let j = 0;
  while (i < pos.length || j < neg.length) {
    let v: number;
    if (j >= neg.length) v = pos[i];
    else if (i >= pos.length) v = neg[j];
    else v = pos[i] < neg[j] ? pos[i] : neg[j];
    let cp = 0;
    let cn = 0;
    while (i < pos.length && pos[i] === v) {
      i++;
      cp++;
    }
    while (j < neg.length && neg[j] === v) {
      j++;
      cn++;
    }
    visit(cp, cn, v);
  }
}
