// A run report as one self-contained HTML file: inline CSS and SVG, images as base64 data URIs, and a
// Content-Security-Policy that forbids every network request.

import { writeFileAtomic, type WriteOptions } from '../io/atomic-write.ts';
import { colormapLut } from './colormap.ts';
import { formatDuration, formatScore, METRIC_DESCRIPTIONS, METRIC_HEADINGS, metricPercent, NOT_APPLICABLE } from './format.ts';
import { escapeHtml } from './html-escape.ts';
import { REPORT_CSS } from './html-style.ts';
import { defaultMetricColumns } from './markdown-table.ts';
import type { ConfigValue, GalleryItem, ReportData, RocChart, StageTiming } from './report-data.ts';
import { rocChartSvg } from './roc-chart.ts';
import { timingTable } from './timings.ts';

export type { ReportData } from './report-data.ts';

/** Only inline styles and data: images may load; nothing else (no scripts, no network). */
export const REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

const MIMES = new Set(['image/png', 'image/jpeg', 'image/webp']);

function configEntries(config: ReportData['config']): (readonly [string, ConfigValue])[] {
  return Array.isArray(config) ? [...(config as readonly (readonly [string, ConfigValue])[])] : Object.entries(config as Readonly<Record<string, ConfigValue>>);
}

function configText(v: ConfigValue): string {
  if (v === null) return NOT_APPLICABLE;
  if (Array.isArray(v)) return v.map(String).join(', ');
  return String(v);
}

function section(id: string, heading: string, body: string): string {
  return `<section id="${id}">\n<h2>${escapeHtml(heading)}</h2>\n${body}\n</section>`;
}

function configSection(data: ReportData): string {
  const rows = configEntries(data.config).map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(configText(v))}</td></tr>`);
  if (rows.length === 0) return section('config', 'Run configuration', '<p class="note">No configuration recorded.</p>');
  return section('config', 'Run configuration', `<table class="kv">\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`);
}

function timingsSection(timings: readonly StageTiming[]): string {
  const table = timingTable(timings);
  const total = table.total;
  const rows = table.rows.map((t) => {
    const share = t.share;
    const bar = `<span class="bar" style="width: ${(share * 120).toFixed(1)}px"></span>`;
    return (
      `<tr><td>${escapeHtml(t.stage)}</td><td class="num">${escapeHtml(formatDuration(t.seconds))}</td>` +
      `<td class="num">${(share * 100).toFixed(1)}%</td><td>${bar}</td></tr>`
    );
  });
  rows.push(`<tr class="total"><td>Total</td><td class="num">${escapeHtml(formatDuration(total))}</td><td class="num">100.0%</td><td></td></tr>`);
  const head = '<thead><tr><th>Stage</th><th class="num">Time</th><th class="num">Share</th><th></th></tr></thead>';
  return section('timings', 'Timings', `<table>\n${head}\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`);
}

function metricsSection(data: ReportData): string {
  const cols = defaultMetricColumns(data.metrics);
  const head =
    `<thead><tr><th>Dataset</th>` +
    cols.map((c) => `<th class="num" title="${escapeHtml(METRIC_DESCRIPTIONS[c])}">${escapeHtml(METRIC_HEADINGS[c])}</th>`).join('') +
    `</tr></thead>`;
  const rows = data.metrics.map(
    (r) =>
      `<tr><td>${escapeHtml(r.dataset)}</td>` +
      cols.map((c) => `<td class="num">${escapeHtml(metricPercent(r[c], `${r.dataset}: ${c}`))}</td>`).join('') +
      `</tr>`,
  );
  const legend = cols.map((c) => `${escapeHtml(METRIC_HEADINGS[c])}: ${escapeHtml(METRIC_DESCRIPTIONS[c])}`).join('; ');
  const body =
    rows.length === 0
      ? '<p class="note">No metrics recorded.</p>'
      : `<table>\n${head}\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>\n` +
        `<p class="note">Values in %. ${legend}. ${NOT_APPLICABLE}: not applicable.</p>`;
  return section('metrics', 'Metrics', body);
}

function rocSection(charts: readonly RocChart[]): string {
  const svgs = charts.map((c) => rocChartSvg(c.series, { title: c.title }));
  return section('roc', 'ROC curves', `<div class="charts">\n${svgs.join('\n')}\n</div>`);
}

function colorbar(scale: NonNullable<ReportData['heatmapScale']>): string {
  const lut = colormapLut(scale.cmap);
  const stops: string[] = [];
  for (let k = 0; k <= 16; k++) {
    const i = Math.min(255, Math.round((k / 16) * 255));
    stops.push(`rgb(${lut[i * 3]}, ${lut[i * 3 + 1]}, ${lut[i * 3 + 2]}) ${((k / 16) * 100).toFixed(2)}%`);
  }
  return (
    `<div class="colorbar"><span>${escapeHtml(formatScore(scale.range.min))}</span>` +
    `<span class="ramp" style="background: linear-gradient(to right, ${stops.join(', ')})"></span>` +
    `<span>${escapeHtml(formatScore(scale.range.max))}</span><span>(${escapeHtml(scale.cmap)}, shared by all heatmaps)</span></div>`
  );
}

/** Gallery items by score, highest first (ties by name; NaN scores last). */
export function sortGallery(items: readonly GalleryItem[]): GalleryItem[] {
  const key = (s: number): number => (Number.isNaN(s) ? -Infinity : s);
  return [...items].sort((a, b) => {
    const d = key(b.score) - key(a.score);
    if (d !== 0 && !Number.isNaN(d)) return d;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

function dataUri(item: GalleryItem): string {
  const mime = item.mime ?? 'image/png';
  if (!MIMES.has(mime)) throw new RangeError(`gallery item '${item.name}': unsupported image type '${String(mime)}'`);
  return `data:${mime};base64,${Buffer.from(item.image.buffer, item.image.byteOffset, item.image.byteLength).toString('base64')}`;
}

function gallerySection(data: ReportData, items: readonly GalleryItem[]): string {
  const figures = sortGallery(items).map((it, k) => {
    const tag =
      it.label === undefined
        ? '<span class="tag unknown">unlabelled</span>'
        : it.label
          ? '<span class="tag anomaly">anomaly</span>'
          : '<span class="tag normal">normal</span>';
    const name = escapeHtml(it.name);
    return (
      `<figure><img src="${dataUri(it)}" alt="${name}" title="${name}" loading="lazy">` +
      `<figcaption><span class="sub">#${k + 1}</span> <span class="name">${name}</span><br>` +
      `${tag} score <b>${escapeHtml(formatScore(it.score))}</b></figcaption></figure>`
    );
  });
  const bar = data.heatmapScale ? colorbar(data.heatmapScale) : '';
  return section(
    'gallery',
    'Gallery',
    `${bar}<p class="note">Sorted by anomaly score, highest first.</p>\n<div class="gallery">\n${figures.join('\n')}\n</div>`,
  );
}

function generatedText(g: Date | string | undefined): string {
  if (g === undefined) return '';
  return g instanceof Date ? g.toISOString() : g;
}

/**
 * Renders the report as one self-contained HTML document: title, run configuration, timings,
 * metrics table, ROC charts, and the overlay gallery sorted by score. All text is escaped; the page
 * makes no network request (inline CSS and SVG, data: images, and a CSP that allows nothing else).
 */
export function renderHtmlReport(data: ReportData): string {
  const parts: string[] = [];
  const title = escapeHtml(data.title);
  parts.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${title}</title>`,
    `<style>${REPORT_CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>${title}</h1>`,
  );
  const generated = generatedText(data.generatedAt);
  if (generated) parts.push(`<p class="meta">Generated ${escapeHtml(generated)}</p>`);
  if (data.description) parts.push(`<p>${escapeHtml(data.description)}</p>`);
  parts.push('</header>');
  parts.push(configSection(data));
  if (data.timings && data.timings.length > 0) parts.push(timingsSection(data.timings));
  parts.push(metricsSection(data));
  if (data.rocCharts && data.rocCharts.length > 0) parts.push(rocSection(data.rocCharts));
  if (data.gallery && data.gallery.length > 0) parts.push(gallerySection(data, data.gallery));
  if (data.citation) parts.push(`<footer><p>${escapeHtml(data.citation)}</p></footer>`);
  parts.push('</body>', '</html>', '');
  return parts.join('\n');
}

/** Writes the report atomically (temporary file, then rename); an existing file is an error unless `{ overwrite: true }`. */
export async function writeHtmlReport(path: string, data: ReportData, write: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, Buffer.from(renderHtmlReport(data), 'utf8'), write);
}
