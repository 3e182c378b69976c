// Runs scripts/fixtures/report_ref.py (matplotlib colour maps, sklearn roc_curve) for the report tests.
// Python with matplotlib and scikit-learn is required: a missing interpreter or module fails the test.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/util/random.ts';
export const rng = mulberry32;

export const PYTHON = process.env.MVFA_PYTHON ?? '/usr/bin/python3';

export type ReportJob =
  | { op: 'lut'; cmap: string }
  | { op: 'colorize'; cmap: string; values: (number | null)[]; dtype: 'float32' | 'float64'; vmin: number | null; vmax: number | null }
  | { op: 'roc'; scores: number[]; labels: number[]; dtype: 'float32' | 'float64'; drop_intermediate: boolean };

export interface RgbResult {
  rgb: number[];
}

export interface RocResult {
  fpr: number[];
  tpr: number[];
  thresholds: (number | 'inf' | '-inf')[];
}

export interface PyOutput {
  matplotlib: string;
  sklearn: string;
  results: Record<string, unknown>[];
}

/** Runs the jobs in one Python process and returns the results in order. */
export function runReportRef(jobs: ReportJob[]): PyOutput {
  const script = fileURLToPath(new URL('../../scripts/fixtures/report_ref.py', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-report-ref-'));
  try {
    const jobsPath = join(dir, 'jobs.json');
    writeFileSync(jobsPath, JSON.stringify(jobs));
    const r = spawnSync(PYTHON, [script, jobsPath], { encoding: 'utf8', maxBuffer: 256 << 20 });
    if (r.error) throw new Error(`cannot run ${PYTHON} (reference values need matplotlib and scikit-learn): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`report_ref.py failed (exit ${r.status}):\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as PyOutput;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
