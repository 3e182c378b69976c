// The report's Timings table: stages add up to the real total (#10: totals used to be added to the stages).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { renderHtmlReport } from '../../src/report/html-report.ts';
import { OTHER_STAGE, isTotalStage, timingTable } from '../../src/report/timings.ts';

/** The rows of the rendered Timings table as [stage, time, share]. */
function renderedTimings(timings: { stage: string; seconds: number }[]): string[][] {
  const html = renderHtmlReport({ title: 't', config: {}, metrics: [], timings });
  const section = html.slice(html.indexOf('<section id="timings">'), html.indexOf('</section>', html.indexOf('<section id="timings">')));
  const body = section.slice(section.indexOf('<tbody>'), section.indexOf('</tbody>'));
  return [...body.matchAll(/<tr[^>]*>(.*?)<\/tr>/g)].map((m) => [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].slice(0, 3).map((c) => c[1]));
}

// A demo run's record: stages of fitMvfa and the evaluation, the run's total and the command's total.
const DEMO = [
  { stage: 'load_s', seconds: 10 },
  { stage: 'train_s', seconds: 200 },
  { stage: 'calibrate_s', seconds: 2 },
  { stage: 'memory_bank_s', seconds: 5 },
  { stage: 'inference_s', seconds: 40 },
  { stage: 'metrics_s', seconds: 1 },
  { stage: 'run_total_s', seconds: 260 },
  { stage: 'total_s', seconds: 282 },
];

test('demo timings: totals are not stages; the remainder is its own row; shares of the real total', () => {
  // By hand: the stages add up to 258 s of the 282 s total; 24 s are outside them.
  // Shares: 10/282 = 3.5 %, 200/282 = 70.9 %, 2/282 = 0.7 %, 5/282 = 1.8 %, 40/282 = 14.2 %, 1/282 = 0.4 %, 24/282 = 8.5 %.
  assert.deepEqual(renderedTimings(DEMO), [
    ['load_s', '10.0 s', '3.5%'],
    ['train_s', '3 min 20.0 s', '70.9%'],
    ['calibrate_s', '2.00 s', '0.7%'],
    ['memory_bank_s', '5.00 s', '1.8%'],
    ['inference_s', '40.0 s', '14.2%'],
    ['metrics_s', '1.00 s', '0.4%'],
    [OTHER_STAGE, '24.0 s', '8.5%'],
    ['Total', '4 min 42.0 s', '100.0%'],
  ]);
  const t = timingTable(DEMO);
  assert.equal(t.total, 282);
  assert.equal(
    t.rows.reduce((s, r) => s + r.seconds, 0),
    282,
  );
  assert.ok(Math.abs(t.rows.reduce((s, r) => s + r.share, 0) - 1) < 1e-12);
});

test('without a recorded total the stages are the total, and no remainder row appears', () => {
  assert.deepEqual(
    renderedTimings([
      { stage: 'load', seconds: 1.5 },
      { stage: 'train', seconds: 4.5 },
    ]),
    [
      ['load', '1.50 s', '25.0%'],
      ['train', '4.50 s', '75.0%'],
      ['Total', '6.00 s', '100.0%'],
    ],
  );
  // only the run's total recorded: it is the total
  const t = timingTable([
    { stage: 'train_s', seconds: 30 },
    { stage: 'run_total_s', seconds: 40 },
  ]);
  assert.equal(t.total, 40);
  assert.deepEqual(
    t.rows.map((r) => [r.stage, r.seconds, r.share]),
    [
      ['train_s', 30, 0.75],
      [OTHER_STAGE, 10, 0.25],
    ],
  );
});

test('isTotalStage', () => {
  for (const s of ['total_s', 'run_total_s', 'total']) assert.ok(isTotalStage(s), s);
  for (const s of ['train_s', 'totals_s', 'subtotal_x', 'load']) assert.ok(!isTotalStage(s), s);
});
