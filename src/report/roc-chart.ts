// ROC curves as an SVG line chart (a string), for the HTML report or a standalone .svg file.

import { percent } from './format.ts';
import { escapeHtml } from './html-escape.ts';
import type { RocSeries } from './roc.ts';

export interface RocChartOptions {
  /** Chart title drawn above the plot. */
  title?: string;
  /** Outer size in CSS pixels (default 380 x 400). */
  width?: number;
  height?: number;
  /** Add the SVG namespace declaration, needed for a standalone .svg file (default false: inline in HTML). */
  standalone?: boolean;
}

/** Line colours used when a series gives none (matplotlib's tab10). */
export const SERIES_COLORS: readonly string[] = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const SVG_NS = 'http://www.w3.org/2000/svg';

function n2(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

/** Legend text of a series: its name and, when known, its AUROC. */
export function seriesLabel(s: RocSeries): string {
  return s.auroc === undefined || !Number.isFinite(s.auroc) ? s.name : `${s.name} (AUROC ${percent(s.auroc)})`;
}

/**
 * An SVG chart of ROC curves (false positive rate on x, true positive rate on y, both 0..1) with the
 * chance diagonal, a 0.2 grid, and a legend naming each curve with its AUROC. All text is escaped.
 */
export function rocChartSvg(series: readonly RocSeries[], opts: RocChartOptions = {}): string {
  const width = opts.width ?? 380;
  const height = opts.height ?? 400;
  if (!(width >= 120 && height >= 120)) throw new RangeError(`chart size ${width}x${height} is too small`);
  const top = opts.title ? 30 : 12;
  const left = 52;
  const right = 14;
  const bottom = 44;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const X = (v: number): number => left + v * pw;
  const Y = (v: number): number => top + (1 - v) * ph;
  const parts: string[] = [];
  const ns = opts.standalone ? ` xmlns="${SVG_NS}"` : '';
  parts.push(
    `<svg${ns} class="roc-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ` +
      `font-family="system-ui, sans-serif" font-size="11">`,
  );
  if (opts.title) {
    parts.push(`<title>${escapeHtml(opts.title)}</title>`);
    parts.push(`<text x="${n2(left + pw / 2)}" y="18" text-anchor="middle" font-size="13" font-weight="600">${escapeHtml(opts.title)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${n2(pw)}" height="${n2(ph)}" fill="#fff" stroke="#333"/>`);
  for (let k = 0; k <= 5; k++) {
    const v = k / 5;
    const label = v.toFixed(1);
    if (k > 0 && k < 5) {
      parts.push(`<line x1="${n2(X(v))}" y1="${top}" x2="${n2(X(v))}" y2="${n2(top + ph)}" stroke="#e5e5e5"/>`);
      parts.push(`<line x1="${left}" y1="${n2(Y(v))}" x2="${n2(left + pw)}" y2="${n2(Y(v))}" stroke="#e5e5e5"/>`);
    }
    parts.push(`<text x="${n2(X(v))}" y="${n2(top + ph + 15)}" text-anchor="middle">${label}</text>`);
    parts.push(`<text x="${left - 6}" y="${n2(Y(v) + 4)}" text-anchor="end">${label}</text>`);
  }
  parts.push(`<text x="${n2(left + pw / 2)}" y="${height - 8}" text-anchor="middle">False positive rate</text>`);
  parts.push(`<text x="14" y="${n2(top + ph / 2)}" text-anchor="middle" transform="rotate(-90 14 ${n2(top + ph / 2)})">True positive rate</text>`);
  parts.push(`<line x1="${n2(X(0))}" y1="${n2(Y(0))}" x2="${n2(X(1))}" y2="${n2(Y(1))}" stroke="#999" stroke-dasharray="4 4"/>`);
  series.forEach((s, k) => {
    if (s.fpr.length !== s.tpr.length) throw new RangeError(`series '${s.name}': fpr and tpr differ in length`);
    const color = escapeHtml(s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]);
    const pts: string[] = [];
    for (let i = 0; i < s.fpr.length; i++) pts.push(`${n2(X(s.fpr[i]))},${n2(Y(s.tpr[i]))}`);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" points="${pts.join(' ')}">` +
        `<title>${escapeHtml(seriesLabel(s))}</title></polyline>`,
    );
  });
  // legend, bottom right inside the plot
  const rowH = 16;
  series.forEach((s, k) => {
    const color = escapeHtml(s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]);
    const y = top + ph - 10 - (series.length - 1 - k) * rowH;
    const x = left + pw - 10;
    parts.push(`<line x1="${n2(x - 22)}" y1="${n2(y - 4)}" x2="${n2(x - 4)}" y2="${n2(y - 4)}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${n2(x - 26)}" y="${n2(y)}" text-anchor="end">${escapeHtml(seriesLabel(s))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
