/**
 * Threshold metrics computed from tie groups (see tie-groups.ts).
 *
 * AUROC is the Mann–Whitney U statistic with ties counted one half, which equals the trapezoidal area
 * under the ROC curve over distinct thresholds (what sklearn.metrics.roc_auc_score computes). It is
 * accumulated as the integer 2U = Σ_groups pos · (2 · negativesBelow + neg), exactly: partial sums stay
 * below 2^53 and are flushed into a BigInt, so the only rounding is the final division.
 */

import { ONE_CLASS_MESSAGE } from './score-keys.ts';
import type { TieGroupSource } from './tie-groups.ts';

const TWO_POW_52 = 2 ** 52;

/** Exact sum of products of non-negative integers (each below 2^53). */
class ExactProductSum {
  private small = 0;
  private big = 0n;

  addProduct(a: number, b: number): void {
    const p = a * b;
    if (p < TWO_POW_52) {
      // small < 2^52 and p < 2^52, so the sum is exact.
      this.small += p;
      if (this.small >= TWO_POW_52) {
        this.big += BigInt(this.small);
        this.small = 0;
      }
    } else {
      this.big += BigInt(a) * BigInt(b);
    }
  }

  value(): bigint {
    return this.big + BigInt(this.small);
  }
}

/** Exact AUROC of tie groups; throws like sklearn when only one class is present. */
export function aurocOfGroups(source: TieGroupSource): number {
  const { positives, negatives } = source;
  if (positives + negatives === 0) throw new RangeError('AUROC of an empty input is not defined');
  if (positives === 0 || negatives === 0) throw new RangeError(ONE_CLASS_MESSAGE);
  const twiceU = new ExactProductSum();
  let negativesBelow = 0;
  source.forEachGroup((pos, neg) => {
    if (pos !== 0) twiceU.addProduct(pos, 2 * negativesBelow + neg);
    negativesBelow += neg;
  });
  return Number(twiceU.value()) / (2 * positives * negatives);
}

/**
 * Best F1 over all thresholds "score >= t", t ranging over the distinct scores: the maximum of
 * 2PR/(P+R) over the points of sklearn's precision_recall_curve, ignoring points where P+R = 0, as in
 * the MVTec-style evaluation scripts (`np.max(f1[np.isfinite(f1)])`). Returns 0 when no threshold
 * catches a positive with nonzero precision (cannot happen when positives exist).
 */
export function maxF1OfGroups(source: TieGroupSource): number {
  const { positives, negatives } = source;
  if (positives === 0) throw new RangeError('max F1 is not defined without positive samples');
  let best = 0;
  let positivesBelow = 0;
  let negativesBelow = 0;
  // Threshold at the lowest score of each group: predicted positive = this group and all above it.
  // Merged single-class runs lose nothing: inside a positive run F1 grows as the threshold falls,
  // inside a negative run it shrinks, so the best point of a run is one of these group thresholds.
  source.forEachGroup((pos, neg) => {
    const tp = positives - positivesBelow;
    const fp = negatives - negativesBelow;
    if (tp > 0) {
      const precision = tp / (tp + fp);
      const recall = tp / positives;
      const f1 = (2 * precision * recall) / (precision + recall);
      if (f1 > best) best = f1;
    }
    positivesBelow += pos;
    negativesBelow += neg;
  });
  return best;
}
