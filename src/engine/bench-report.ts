// Benchmark reports: results.json, a paper-style Markdown table, and a self-contained HTML report with overlays.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { MVFA_DEFAULTS } from '../mvfa/defaults.ts';
import { type GalleryItem, type MetricsRow, heatmapOverlay, markdownTable, renderHtmlReport, rocSeries } from '../report/index.ts';
import { type RunResult } from './protocols.ts';

export interface MeanStd {
  mean: number;
  std: number;
  values: number[];
}

export function meanStd(values: number[]): MeanStd {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  const v = values.length > 1 ? values.reduce((a, b) => a + (b - m) ** 2, 0) / (values.length - 1) : 0;
  return { mean: m, std: Math.sqrt(v), values };
}

type MetricName = 'imageAuroc' | 'pixelAuroc' | 'imageMaxF1' | 'pixelMaxF1' | 'aupro';
const METRICS: MetricName[] = ['imageAuroc', 'pixelAuroc', 'imageMaxF1', 'pixelMaxF1', 'aupro'];

export function summarize(runs: RunResult[]): Partial<Record<MetricName, MeanStd>> {
  const out: Partial<Record<MetricName, MeanStd>> = {};
  for (const k of METRICS) {
    const vals = runs.map((r) => r.result[k]).filter((v): v is number => typeof v === 'number');
    if (vals.length === runs.length && vals.length > 0) out[k] = meanStd(vals);
  }
  return out;
}

export interface BenchReportInput {
  title: string;
  dataset: string;
  config: Record<string, string | number | boolean | null>;
  runs: RunResult[];
  stageTimings: Record<string, number>;
  outDir: string;
}

export async function writeBenchReport(b: BenchReportInput): Promise<{ json: string; markdown: string; html: string }> {
  await mkdir(b.outDir, { recursive: true });
  const summary = summarize(b.runs);
  const row: MetricsRow = { dataset: b.dataset };
  for (const [k, v] of Object.entries(summary)) (row as unknown as Record<string, number>)[k] = v.mean;
  const json = {
    dataset: b.dataset,
    config: b.config,
    summary,
    runs: b.runs.map((r) => ({
      run: r.run,
      split: r.split,
      timings: r.timings,
      metrics: Object.fromEntries(METRICS.map((k) => [k, r.result[k]])),
      images: r.result.images,
      perImage: r.result.perImage,
    })),
    timings: b.stageTimings,
  };
  const jsonPath = join(b.outDir, 'results.json');
  await writeFile(jsonPath, `${JSON.stringify(json, null, 1)}\n`);
  const pm = (m?: MeanStd) => (m ? `${(m.mean * 100).toFixed(2)} ± ${(m.std * 100).toFixed(2)}` : '–');
  const md = `# ${b.title}\n\n${markdownTable([row])}\n\nRuns: ${b.runs.length}. Mean ± std over runs (%): image AUROC ${pm(summary.imageAuroc)}, pixel AUROC ${pm(summary.pixelAuroc)}.\n`;
  const mdPath = join(b.outDir, 'results.md');
  await writeFile(mdPath, md);
  const first = b.runs[0].result;
  const gallery: GalleryItem[] = [];
  for (const s of first.samples) {
    if (s.map.length === 0) continue;
    const png = await heatmapOverlay({
      image: s.path,
      map: s.map,
      range: { min: 0, max: 1 },
      groundTruth: s.mask ?? undefined,
      outSize: MVFA_DEFAULTS.imageSize,
    });
    const name = basename(s.path);
    gallery.push({ name, label: s.label, score: s.score, image: png });
    await mkdir(join(b.outDir, 'overlays'), { recursive: true });
    await writeFileAtomic(join(b.outDir, 'overlays', `${name.replace(/\.[^.]+$/, '')}.png`), [png], { overwrite: true });
  }
  const labels = Uint8Array.from(first.perImage.map((p) => p.label));
  const scores = Float64Array.from(first.perImage.map((p) => p.score));
  const html = renderHtmlReport({
    title: b.title,
    generatedAt: new Date(),
    config: b.config,
    timings: Object.entries(b.stageTimings).map(([stage, seconds]) => ({ stage, seconds })),
    metrics: [row],
    rocCharts: [{ title: `${b.dataset}: image level (run 1)`, series: [rocSeries('image-level', scores, labels)] }],
    gallery,
    heatmapScale: { cmap: 'jet', range: { min: 0, max: 1 } },
    citation: 'Huang et al., Adapting Visual-Language Models for Generalizable Anomaly Detection in Medical Images, CVPR 2024.',
  });
  const htmlPath = join(b.outDir, 'report.html');
  await writeFile(htmlPath, html);
  return { json: jsonPath, markdown: mdPath, html: htmlPath };
}
