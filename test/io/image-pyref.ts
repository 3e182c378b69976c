// Runs the Python reference generators (scripts/fixtures/image_*.py) for the image and resampling
// tests. Python with Pillow / PyTorch is required: a missing interpreter or module fails the test.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PYTHON = process.env.MVFA_PYTHON ?? '/usr/bin/python3';
export const DATA_DIR = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

export type PyScript = 'image_pil_ref.py' | 'image_torch_ref.py';
export type Job = Record<string, unknown> & { op: string };

export interface PyResult {
  version: string;
  results: Record<string, unknown>[];
}

export function runPyRef(script: PyScript, jobs: Job[], dir: string): PyResult {
  const scriptPath = fileURLToPath(new URL(`../../scripts/fixtures/${script}`, import.meta.url));
  const jobsPath = join(dir, `jobs-${script}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(jobsPath, JSON.stringify(jobs));
  const r = spawnSync(PYTHON, [scriptPath, jobsPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`cannot run ${PYTHON} for ${script} (reference outputs need Python): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status}):\n${r.stderr}`);
  const parsed = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  return { version: String(parsed.pil ?? parsed.torch), results: parsed.results as Record<string, unknown>[] };
}

export function makeTempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-image-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export function readI32(path: string): Int32Array {
  const b = readFileSync(path);
  const out = new Int32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
