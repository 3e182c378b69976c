// Number formatting shared by the HTML report, the markdown table and the charts.

import type { MetricKey } from './report-data.ts';

/** Shown where a metric does not apply. */
export const NOT_APPLICABLE = '–';

/** Column headings of the metrics, paper style ("AC" / "AS" as in MVFA's tables). */
export const METRIC_HEADINGS: Readonly<Record<MetricKey, string>> = {
  imageAuroc: 'AC',
  pixelAuroc: 'AS',
  imageMaxF1: 'max-F1 (image)',
  pixelMaxF1: 'max-F1 (pixel)',
  aupro: 'AUPRO',
};

/** Longer descriptions of the metric columns. */
export const METRIC_DESCRIPTIONS: Readonly<Record<MetricKey, string>> = {
  imageAuroc: 'image-level AUROC (anomaly classification)',
  pixelAuroc: 'pixel-level AUROC (anomaly segmentation)',
  imageMaxF1: 'best F1 over thresholds of the image scores',
  pixelMaxF1: 'best F1 over thresholds of the pixel scores',
  aupro: 'area under the per-region-overlap curve',
};

export const METRIC_KEYS: readonly MetricKey[] = ['imageAuroc', 'pixelAuroc', 'imageMaxF1', 'pixelMaxF1', 'aupro'];

/**
 * A fraction in [0, 1] as a percentage with two decimals, without the sign ("97.30"); a dash for
 * null, undefined or NaN. Throws a RangeError outside [0, 1] (a value already in percent, say).
 */
export function metricPercent(v: number | null | undefined, what = 'metric'): string {
  if (v === null || v === undefined || Number.isNaN(v)) return NOT_APPLICABLE;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${what} must be a fraction in [0, 1] (got ${v})`);
  return (v * 100).toFixed(2);
}

/** "97.30%". */
export function percent(v: number): string {
  return `${(v * 100).toFixed(2)}%`;
}

/** A duration: "0.42 s", "12.3 s", "2 min 03.4 s", "1 h 02 min 03 s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return NOT_APPLICABLE;
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const tenths = Math.round(seconds * 10);
  if (tenths < 36000) {
    const m = Math.floor(tenths / 600);
    const s = (tenths % 600) / 10;
    return `${m} min ${s.toFixed(1).padStart(4, '0')} s`;
  }
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return `${h} h ${String(m).padStart(2, '0')} min ${String(s).padStart(2, '0')} s`;
}

/** An anomaly score: four decimals, or four significant digits in exponent form when very large or small. */
export function formatScore(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
  return v.toFixed(4);
}
