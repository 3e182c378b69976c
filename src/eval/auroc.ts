/**
 * Exact AUROC, identical (up to float rounding of the final ratio) to sklearn.metrics.roc_auc_score:
 * one-shot on small or large arrays, and streaming over chunks of pixel scores.
 */

import { BucketedKeyStore } from './bucketed-key-store.ts';
import { aurocOfGroups, maxF1OfGroups } from './group-metrics.ts';
import type { ScoreArray } from './score-keys.ts';
import { tieGroupsOf } from './score-groups.ts';

/**
 * Exact area under the ROC curve of `scores` against `labels` (0 = negative, any other value =
 * positive), equal to sklearn's `roc_auc_score(labels != 0, scores)`: the trapezoidal area over
 * distinct thresholds, i.e. the Mann–Whitney U statistic with ties counting one half.
 *
 * Ties are exact equality of the given values (float32 or float64); -0 equals +0. Throws a
 * RangeError on NaN/±Infinity scores, on a length mismatch, on empty input, and, with sklearn's
 * message, when only one class is present.
 */
export function aurocExact(scores: ScoreArray, labels: Uint8Array): number {
  return aurocOfGroups(tieGroupsOf(scores, labels));
}

/**
 * Streaming exact AUROC (and max F1) over float32 pixel scores, for test sets far too large to sort
 * in one piece: 3 715 maps of 240 × 240 = 214 M scores take about 2 bytes per score (≈ 430 MB),
 * plus at most one partly filled block (≤ 2 KiB) per non-empty (top-16-bit bucket, label) pair.
 * Ties are equal float32 values; labels: 0 = normal, anything else = anomalous.
 *
 * The result is exactly the one-shot {@link aurocExact} of the concatenated chunks, whatever the
 * chunking. A rejected `add` (NaN, ±Infinity, length mismatch) changes nothing.
 */
export class AurocAccumulator {
  private readonly store = new BucketedKeyStore();

  /** Adds one chunk (e.g. one anomaly map and its mask); labels: 0 = normal, other = anomalous. */
  add(scores: Float32Array, labels: Uint8Array): void {
    this.store.add(scores, labels);
  }

  /** Number of scores added so far. */
  get count(): number {
    return this.store.size;
  }

  /** Exact AUROC of everything added so far (the accumulator stays usable). */
  result(): number {
    return aurocOfGroups(this.store);
  }

  /** Best F1 over thresholds of everything added so far (same definition as {@link maxF1}). */
  maxF1(): number {
    return maxF1OfGroups(this.store);
  }
}
