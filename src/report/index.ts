/** Visual outputs: colour maps, heatmap overlays, ROC curves and charts, HTML and markdown reports. */

export {
  autoRange,
  colorize,
  colormapIndices,
  colormapLut,
  resolveRange,
  COLORMAP_NAMES,
  LUT_SIZE,
  type ColormapName,
  type RangeSpec,
  type ValueRange,
} from './colormap.ts';
export {
  heatmapOverlay,
  maskContour,
  rasterToRgb,
  renderOverlay,
  resizeMap,
  resizeMask,
  writeOverlay,
  DEFAULT_CONTOUR_COLOR,
  type OverlayImage,
  type OverlayOptions,
  type Rgb,
} from './overlay.ts';
export { rocCurve, rocSeries, thinCurve, type RocCurve, type RocOptions, type RocSeries } from './roc.ts';
export { rocChartSvg, seriesLabel, SERIES_COLORS, type RocChartOptions } from './roc-chart.ts';
export { renderHtmlReport, sortGallery, writeHtmlReport, REPORT_CSP } from './html-report.ts';
export { defaultMetricColumns, markdownTable, type MarkdownTableOptions } from './markdown-table.ts';
export { escapeHtml } from './html-escape.ts';
export { formatDuration, formatScore, metricPercent, percent, NOT_APPLICABLE } from './format.ts';
export type { ConfigValue, GalleryItem, MetricKey, MetricsRow, ReportData, RocChart, StageTiming } from './report-data.ts';
