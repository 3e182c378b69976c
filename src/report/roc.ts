// ROC curve points, equal to sklearn.metrics.roc_curve, and a thinning step for plotting.

import { aurocExact, type ScoreArray } from '../eval/index.ts';
import { forEachTie, splitSorted } from '../eval/tie-groups.ts';

/** Points of an ROC curve, by decreasing threshold; the first point is (0, 0) at threshold +Infinity. */
export interface RocCurve {
  fpr: Float64Array;
  tpr: Float64Array;
  /** Scores are "positive" when >= the threshold. */
  thresholds: Float64Array;
}

export interface RocOptions {
  /** Drop points on straight segments, as sklearn does (default true). */
  dropIntermediate?: boolean;
}

/** One named curve for a chart. */
export interface RocSeries {
  name: string;
  fpr: ArrayLike<number>;
  tpr: ArrayLike<number>;
  /** Area under the curve in [0, 1], shown in the legend when given. */
  auroc?: number;
  /** CSS colour of the line (default: a fixed palette). */
  color?: string;
}

/**
 * ROC curve of `scores` against `labels` (0 = negative, anything else positive), equal to
 * `sklearn.metrics.roc_curve(labels != 0, scores, drop_intermediate=...)`: one point per distinct
 * score (exact equality of the stored float32 / float64 values; -0 equals +0), preceded by (0, 0).
 * The first threshold is +Infinity (scikit-learn >= 1.3; older versions use max + 1).
 * Throws a RangeError when a class is missing, on NaN/±Infinity scores, or on a length mismatch.
 */
export function rocCurve(scores: ScoreArray, labels: Uint8Array, opts: RocOptions = {}): RocCurve {
  const { pos, neg } = splitSorted(scores, labels);
  const positives = pos.length;
  const negatives = neg.length;
  if (positives === 0 || negatives === 0) {
    throw new RangeError(`an ROC curve needs both classes (got ${positives} positive and ${negatives} negative samples)`);
  }
  // distinct scores, lowest first, with their counts (value, positives, negatives)
  const groups: number[] = [];
  forEachTie(pos, neg, (cp, cn, v) => groups.push(v, cp, cn));
  // cumulative counts at each distinct threshold, highest first
  const m = groups.length / 3;
  const thr: number[] = new Array<number>(m);
  const tps: number[] = new Array<number>(m);
  const fps: number[] = new Array<number>(m);
  for (let k = 0, tp = 0, fp = 0; k < m; k++) {
    const g = 3 * (m - 1 - k);
    tp += groups[g + 1];
    fp += groups[g + 2];
    thr[k] = groups[g] === 0 ? 0 : groups[g];
    tps[k] = tp;
    fps[k] = fp;
  }
  let keep: number[] = thr.map((_, k) => k);
  if ((opts.dropIntermediate ?? true) && thr.length > 2) {
    keep = keep.filter((k) => {
      if (k === 0 || k === thr.length - 1) return true;
      return fps[k - 1] - 2 * fps[k] + fps[k + 1] !== 0 || tps[k - 1] - 2 * tps[k] + tps[k + 1] !== 0;
    });
  }
  const n = keep.length + 1;
  const curve: RocCurve = { fpr: new Float64Array(n), tpr: new Float64Array(n), thresholds: new Float64Array(n) };
  curve.thresholds[0] = Infinity;
  keep.forEach((k, m) => {
    curve.fpr[m + 1] = fps[k] / negatives;
    curve.tpr[m + 1] = tps[k] / positives;
    curve.thresholds[m + 1] = thr[k];
  });
  return curve;
}

/**
 * Thins a monotone curve for drawing. Keeps the first and last point, every point that has moved at
 * least `tolerance` along either axis from the previously kept one, and the point just before such a
 * move; every dropped point lies within `tolerance` (on each axis) of a kept neighbour, so at most
 * about 4 / `tolerance` points remain.
 */
export function thinCurve(fpr: ArrayLike<number>, tpr: ArrayLike<number>, tolerance = 1e-3): { fpr: Float64Array; tpr: Float64Array } {
  if (fpr.length !== tpr.length) throw new RangeError(`fpr and tpr differ in length (${fpr.length} vs ${tpr.length})`);
  if (!(tolerance >= 0)) throw new RangeError(`tolerance must be >= 0 (got ${tolerance})`);
  const n = fpr.length;
  const kept: number[] = [];
  let last = -1;
  for (let k = 0; k < n; k++) {
    const far = last >= 0 && (Math.abs(fpr[k] - fpr[last]) >= tolerance || Math.abs(tpr[k] - tpr[last]) >= tolerance);
    if (k === 0 || k === n - 1 || far) {
      if (far && k - 1 > last) kept.push(k - 1);
      kept.push(k);
      last = k;
    }
  }
  return { fpr: Float64Array.from(kept, (k) => fpr[k]), tpr: Float64Array.from(kept, (k) => tpr[k]) };
}

/** A chart series from raw scores: the (thinned) ROC curve and the exact AUROC. */
export function rocSeries(name: string, scores: ScoreArray, labels: Uint8Array, tolerance = 1e-3): RocSeries {
  const c = rocCurve(scores, labels);
  const t = thinCurve(c.fpr, c.tpr, tolerance);
  return { name, fpr: t.fpr, tpr: t.tpr, auroc: aurocExact(scores, labels) };
}
