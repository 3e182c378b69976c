// The Timings table of a run report: stages that add up to the real total.
//
// Timing records mix stages (load_s, train_s, inference_s, …) with totals that enclose them (run_total_s for one
// protocol run, total_s for the whole command). Totals are not stages: adding them to the stages counts the same
// time two or three times. The table's total is the outermost total when one is recorded (else the sum of the
// stages); the time no stage accounts for (model loading, setup, report writing) is its own row, so the rows add up
// to the total and the shares to 100 %.

import type { StageTiming } from './report-data.ts';

export interface TimingRow {
  stage: string;
  seconds: number;
  /** Fraction of the total (0..1). */
  share: number;
}

export interface TimingTable {
  rows: TimingRow[];
  total: number;
}

/** Name of the row for the time outside the recorded stages. */
export const OTHER_STAGE = 'other (setup, model loading, writing results)';

/** True for records that enclose other stages (total_s, run_total_s, total). */
export function isTotalStage(stage: string): boolean {
  return /(^|_)total(_s)?$/.test(stage);
}

const valid = (s: number): boolean => Number.isFinite(s) && s >= 0;

export function timingTable(timings: readonly StageTiming[]): TimingTable {
  const stages = timings.filter((t) => !isTotalStage(t.stage));
  const staged = stages.reduce((s, t) => s + (valid(t.seconds) ? t.seconds : 0), 0);
  const totals = timings.filter((t) => isTotalStage(t.stage) && valid(t.seconds)).map((t) => t.seconds);
  const recorded = totals.length > 0 ? Math.max(...totals) : staged;
  const total = Math.max(recorded, staged);
  const rows = stages.map((t) => ({ stage: t.stage, seconds: t.seconds, share: total > 0 && valid(t.seconds) ? t.seconds / total : 0 }));
  // below a millisecond the remainder is rounding of the recorded times, not a stage
  const other = total - staged;
  if (other >= 1e-3) rows.push({ stage: OTHER_STAGE, seconds: other, share: total > 0 ? other / total : 0 });
  return { rows, total };
}
