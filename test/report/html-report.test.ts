import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { renderHtmlReport, writeHtmlReport, type ReportData } from '../../src/report/html-report.ts';
import { escapeHtml } from '../../src/report/html-escape.ts';
import { formatDuration } from '../../src/report/format.ts';
import { rocChartSvg } from '../../src/report/roc-chart.ts';

const NASTY = `<img src=x onerror="alert('&amp;')">&"scan"'01'.png`;
const CITATION =
  'Huang et al., Adapting Visual-Language Models for Generalizable Anomaly Detection in Medical Images, CVPR 2024. https://github.com/MediaBrain-SJTU/MVFA-AD';
// 1x1 PNG bytes (any bytes work: the report embeds them as they are)
const PNG_A = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
const PNG_B = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 9, 8, 7]);

function sample(): ReportData {
  return {
    title: 'MVFA <few-shot> & "Brain"',
    description: 'k = 4 shots; seed 111',
    generatedAt: new Date(Date.UTC(2024, 5, 1, 12, 30, 0)),
    config: { dataset: 'Brain', shots: 4, 'features <layers>': [6, 12, 18, 24], fusion: true, weights: null },
    timings: [
      { stage: 'load', seconds: 1.5 },
      { stage: 'train & adapt', seconds: 125.25 },
    ],
    metrics: [
      { dataset: 'BrainMRI', imageAuroc: 0.973, pixelAuroc: 0.97381 },
      { dataset: 'OCT17', imageAuroc: 0.99, pixelAuroc: null },
      { dataset: 'His|to', imageAuroc: 0.8165, aupro: 0.5 },
    ],
    rocCharts: [
      {
        title: 'Brain <ROC>',
        series: [
          { name: 'image-level', fpr: [0, 0, 1], tpr: [0, 1, 1], auroc: 0.973 },
          { name: 'pixel & co', fpr: [0, 0.5, 1], tpr: [0, 0.9, 1], auroc: 0.9 },
        ],
      },
    ],
    gallery: [
      { name: 'low.png', label: 0, score: 0.12, image: PNG_B },
      { name: NASTY, label: 1, score: 0.93, image: PNG_A },
      { name: 'mid.png', score: 0.5, image: PNG_B },
    ],
    heatmapScale: { cmap: 'jet', range: { min: 0, max: 1 } },
    citation: CITATION,
  };
}

test('HTML escapes names, titles, config, series labels and citations', () => {
  const html = renderHtmlReport(sample());
  assert.ok(!html.includes(NASTY), 'raw file name must not appear');
  assert.ok(!html.includes('<img src=x'), 'no injected element');
  // real tags (escaped text holds no '<'), with their quoted attribute values removed, carry no handler
  for (const tag of html.match(/<[a-zA-Z][^>]*>/g) ?? []) {
    assert.ok(!/\son[a-z]+\s*=/i.test(tag.replace(/"[^"]*"/g, '""')), `event handler in ${tag.slice(0, 80)}`);
  }
  const escaped = '&lt;img src=x onerror=&quot;alert(&#39;&amp;amp;&#39;)&quot;&gt;&amp;&quot;scan&quot;&#39;01&#39;.png';
  assert.equal(escapeHtml(NASTY), escaped);
  assert.ok(html.includes(`<span class="name">${escaped}</span>`), 'escaped caption');
  assert.ok(html.includes(`alt="${escaped}"`), 'escaped alt attribute');
  assert.ok(html.includes('<title>MVFA &lt;few-shot&gt; &amp; &quot;Brain&quot;</title>'));
  assert.ok(html.includes('<th scope="row">features &lt;layers&gt;</th><td>6, 12, 18, 24</td>'));
  assert.ok(html.includes('pixel &amp; co (AUROC 90.00%)'));
  assert.ok(html.includes('Brain &lt;ROC&gt;'));
  assert.ok(html.includes('<td>train &amp; adapt</td>'));
  // exactly one <img> per gallery item, all data URIs; no script, no external resources
  assert.equal(html.match(/<img /g)?.length, 3);
  assert.equal(html.match(/<img src="data:image\/png;base64,/g)?.length, 3);
  assert.ok(!/<script|<link|<iframe|@import|url\(/i.test(html));
});

test('the report makes no http(s) reference except the citation text', () => {
  const html = renderHtmlReport(sample());
  const citation = escapeHtml(CITATION);
  assert.equal(html.split(citation).length, 2, 'citation appears once');
  assert.ok(!/https?:\/\//i.test(html.split(citation).join('')), 'no URL outside the citation');
  assert.ok(!/\/\/[a-z0-9.-]+\.[a-z]{2,}/i.test(html.split(citation).join('')), 'no protocol-relative URL');
  assert.ok(html.includes(`content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"`), 'CSP');
  const noCitation = renderHtmlReport({ ...sample(), citation: undefined });
  assert.ok(!/https?:/i.test(noCitation));
});

test('embedded images round-trip, the gallery is sorted by score, labels are shown', () => {
  const html = renderHtmlReport(sample());
  const uris = [...html.matchAll(/src="data:image\/png;base64,([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1], 'base64'));
  assert.deepEqual(
    uris.map((b) => Array.from(b)),
    [PNG_A, PNG_B, PNG_B].map((b) => Array.from(b)),
  );
  const order = ['&#39;01&#39;.png', 'mid.png', 'low.png'].map((n) => html.indexOf(`${n}</span>`));
  assert.ok(order[0] > 0 && order[0] < order[1] && order[1] < order[2], `order ${order}`);
  assert.ok(html.includes('<span class="tag anomaly">anomaly</span> score <b>0.9300</b>'));
  assert.ok(html.includes('<span class="tag unknown">unlabelled</span> score <b>0.5000</b>'));
  assert.ok(html.includes('<span class="tag normal">normal</span> score <b>0.1200</b>'));
});

test('metrics table: paper-style AC / AS columns in %, dashes, extra columns when present', () => {
  const html = renderHtmlReport(sample());
  const table = html.slice(html.indexOf('<section id="metrics">'), html.indexOf('</section>', html.indexOf('<section id="metrics">')));
  assert.ok(table.includes('<tr><td>BrainMRI</td><td class="num">97.30</td><td class="num">97.38</td><td class="num">–</td></tr>'));
  assert.ok(table.includes('<tr><td>OCT17</td><td class="num">99.00</td><td class="num">–</td><td class="num">–</td></tr>'));
  assert.ok(table.includes('<tr><td>His|to</td><td class="num">81.65</td><td class="num">–</td><td class="num">50.00</td></tr>'));
  assert.ok(/<th>Dataset<\/th><th[^>]*>AC<\/th><th[^>]*>AS<\/th><th[^>]*>AUPRO<\/th>/.test(table));
  // sections in order: configuration, timings, metrics, ROC, gallery
  const pos = ['id="config"', 'id="timings"', 'id="metrics"', 'id="roc"', 'id="gallery"', '<footer>'].map((s) => html.indexOf(s));
  assert.deepEqual(
    [...pos].sort((a, b) => a - b),
    pos,
  );
  assert.ok(pos[0] > 0);
  assert.ok(html.includes('<td class="num">2 min 05.3 s</td>'));
  assert.ok(html.includes('<tr class="total"><td>Total</td><td class="num">2 min 06.8 s</td>'));
  assert.throws(() => renderHtmlReport({ ...sample(), metrics: [{ dataset: 'x', imageAuroc: 97.3 }] }), /fraction/);
});

test('formatDuration', () => {
  assert.equal(formatDuration(0.4213), '0.42 s');
  assert.equal(formatDuration(12.34), '12.3 s');
  assert.equal(formatDuration(125.25), '2 min 05.3 s');
  assert.equal(formatDuration(3723.4), '1 h 02 min 03 s');
  assert.equal(formatDuration(NaN), '–');
});

test('ROC chart: coordinates, legend with AUROC, namespace only when standalone', () => {
  const svg = rocChartSvg([{ name: 'a<b', fpr: [0, 0, 1], tpr: [0, 1, 1], auroc: 0.5 }], { title: 'T', width: 380, height: 400 });
  // plot box: left 52, right margin 14, top 30 (title), bottom margin 44 -> x 52..366, y 30..356
  assert.ok(svg.includes('points="52,356 52,30 366,30"'), svg);
  assert.ok(svg.includes('>a&lt;b (AUROC 50.00%)</text>'));
  assert.ok(svg.startsWith('<svg class="roc-chart"'));
  assert.ok(!svg.includes('xmlns'));
  const file = rocChartSvg([{ name: 's', fpr: [0, 1], tpr: [0, 1] }], { standalone: true });
  assert.ok(file.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(file.includes('>s</text>'), 'no AUROC in the legend when not given');
  assert.throws(() => rocChartSvg([{ name: 'bad', fpr: [0, 1], tpr: [0] }]), /differ in length/);
});

test('writeHtmlReport writes atomically and does not overwrite unless asked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-report-'));
  try {
    const path = join(dir, 'report.html');
    await writeHtmlReport(path, sample());
    assert.equal(readFileSync(path, 'utf8'), renderHtmlReport(sample()));
    await assert.rejects(writeHtmlReport(path, { ...sample(), title: 'other' }), /already exists/);
    assert.ok(readFileSync(path, 'utf8').includes('MVFA &lt;few-shot&gt;'));
    await writeHtmlReport(path, { ...sample(), title: 'other' }, { overwrite: true });
    assert.ok(readFileSync(path, 'utf8').includes('<title>other</title>'));
    assert.deepEqual(readdirSync(dir), ['report.html']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
