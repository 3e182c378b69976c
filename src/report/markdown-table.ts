// Metrics as a markdown table in the style of the MVFA paper's Table 1: `| Dataset | AC | AS |`, values
// in percent with two decimals, a dash where a metric does not apply.

import { METRIC_HEADINGS, METRIC_KEYS, metricPercent } from './format.ts';
import type { MetricKey, MetricsRow } from './report-data.ts';

export interface MarkdownTableOptions {
  /**
   * Metric columns, in order. Default: image and pixel AUROC (AC, AS), followed by max-F1 and AUPRO
   * columns when any row has such a value.
   */
  columns?: readonly MetricKey[];
}

/** Metric columns shown by default: AC and AS always, the others when some row has them. */
export function defaultMetricColumns(rows: readonly MetricsRow[]): MetricKey[] {
  return METRIC_KEYS.filter((k) => k === 'imageAuroc' || k === 'pixelAuroc' || rows.some((r) => r[k] !== undefined && r[k] !== null));
}

function cell(text: string): string {
  return text
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|');
}

/** The metrics as a GitHub-flavoured markdown table (numbers right-aligned), ending with a newline. */
export function markdownTable(rows: readonly MetricsRow[], opts: MarkdownTableOptions = {}): string {
  const cols = opts.columns ?? defaultMetricColumns(rows);
  const lines = [`| Dataset | ${cols.map((c) => METRIC_HEADINGS[c]).join(' | ')} |`, `| --- | ${cols.map(() => '---:').join(' | ')} |`];
  for (const r of rows) {
    const vals = cols.map((c) => metricPercent(r[c], `${r.dataset}: ${c}`));
    lines.push(`| ${cell(r.dataset)} | ${vals.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}
