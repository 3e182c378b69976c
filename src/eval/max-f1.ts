/** Pixel/image-level max F1 as reported in anomaly-detection papers. */

import { maxF1OfGroups } from './group-metrics.ts';
import type { ScoreArray } from './score-keys.ts';
import { tieGroupsOf } from './score-groups.ts';

/**
 * Best F1 over all thresholds "score >= t" (t over the distinct scores), i.e. the
 * `np.max(f1[np.isfinite(f1)])` of `f1 = 2PR/(P+R)` on sklearn's `precision_recall_curve`, as in the
 * MVTec-style evaluation scripts. Labels: 0 = negative, any other value = positive. Throws a
 * RangeError on NaN/±Infinity, on a length mismatch, and when there is no positive sample (where
 * sklearn warns that recall is undefined and the recipe above yields 0).
 */
export function maxF1(scores: ScoreArray, labels: Uint8Array): number {
  return maxF1OfGroups(tieGroupsOf(scores, labels));
}
