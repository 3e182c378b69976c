// The data a run report is made of (see html-report.ts and markdown-table.ts).

import type { ColormapName, ValueRange } from './colormap.ts';
import type { RocSeries } from './roc.ts';

/** Metrics of one dataset (or one class), as fractions in [0, 1]; null / absent = not applicable. */
export interface MetricsRow {
  dataset: string;
  /** Image-level AUROC: anomaly classification, "AC" in the MVFA paper's tables. */
  imageAuroc?: number | null;
  /** Pixel-level AUROC: anomaly segmentation, "AS" in the MVFA paper's tables. */
  pixelAuroc?: number | null;
  /** Best F1 over thresholds of the image scores. */
  imageMaxF1?: number | null;
  /** Best F1 over thresholds of the pixel scores. */
  pixelMaxF1?: number | null;
  /** Area under the per-region-overlap curve (up to the usual FPR limit). */
  aupro?: number | null;
}

export type MetricKey = Exclude<keyof MetricsRow, 'dataset'>;

/** A value of the run-configuration table; arrays are shown comma-separated, null as a dash. */
export type ConfigValue = string | number | boolean | null | readonly (string | number | boolean)[];

/** Wall time of one stage of the run. */
export interface StageTiming {
  stage: string;
  seconds: number;
}

/** One chart of ROC curves (e.g. image-level and pixel-level of one dataset). */
export interface RocChart {
  title: string;
  series: readonly RocSeries[];
}

/** One image of the gallery. */
export interface GalleryItem {
  /** File name or id shown under the image (any characters; escaped). */
  name: string;
  /** Ground truth: 0 = normal, 1 = anomalous; absent when unknown. */
  label?: 0 | 1;
  /** Image-level anomaly score; the gallery is sorted by it, highest first. */
  score: number;
  /** The encoded picture (e.g. a heatmap overlay PNG), embedded as a data URI. */
  image: Uint8Array;
  /** MIME type of `image` (default 'image/png'). */
  mime?: 'image/png' | 'image/jpeg' | 'image/webp';
}

/** Everything shown in a run report. */
export interface ReportData {
  title: string;
  /** One paragraph under the title. */
  description?: string;
  /** When the run finished (shown as given, or ISO 8601 for a Date). */
  generatedAt?: Date | string;
  /** Run configuration as key/value pairs, in the given order. */
  config: Readonly<Record<string, ConfigValue>> | readonly (readonly [string, ConfigValue])[];
  /** Time spent per stage, in order; a total is added. */
  timings?: readonly StageTiming[];
  /** Metrics table, one row per dataset. */
  metrics: readonly MetricsRow[];
  /** ROC charts, drawn side by side. */
  rocCharts?: readonly RocChart[];
  /** Overlays with their names, labels and scores. */
  gallery?: readonly GalleryItem[];
  /** Colour map and range shared by the gallery's heatmaps, shown as a colour bar. */
  heatmapScale?: { cmap: ColormapName; range: ValueRange };
  /** Citation text shown at the bottom (plain text, may contain a URL). */
  citation?: string;
}
