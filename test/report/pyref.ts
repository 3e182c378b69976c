// Reference values of the report tests (matplotlib colour maps, scikit-learn's roc_curve), committed in
// fixtures/report by scripts/fixtures/report_cases.py, which rebuilds the tests' inputs from the same seeds; each case
// records the SHA-256 of the inputs it was computed on. `npm run test:reference` regenerates them with live Python.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mulberry32 } from '../../src/util/random.ts';
import { fixture } from '../support/fixtures.ts';
export const rng = mulberry32;

/** A float64 array stored in full, or by length and SHA-256 of its little-endian bytes when long. */
export type StoredArray = number[] | { length: number; sha256: string };

export interface ColorizeRef {
  cmap: string;
  dtype: 'float32' | 'float64';
  vmin: number | null;
  vmax: number | null;
  seed: number;
  n: number;
  input_sha256: string;
  rgb_b64: string;
}

export interface RocRef {
  name: string;
  drop: boolean;
  n: number;
  input_sha256: string;
  fpr: StoredArray;
  tpr: StoredArray;
  /** sklearn < 1.3 puts max + 1 first, later versions +inf ('inf'). */
  threshold0: number | 'inf';
  thresholds: StoredArray;
}

export interface ReportRef {
  lut: Record<string, number[]>;
  colorize: ColorizeRef[];
  colorize_nan: number[];
  roc: RocRef[];
}

let cache: ReportRef | undefined;
export function reportRef(): ReportRef {
  cache ??= JSON.parse(readFileSync(fixture('report', 'report.json'), 'utf8')) as ReportRef;
  return cache;
}

export function sha256(...parts: ArrayBufferView[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest('hex');
}

/** Compares an array exactly with a stored reference: length first, then every value (or the SHA-256 of the float64 bytes). */
export function assertSameArray(got: ArrayLike<number>, want: StoredArray, what: string): void {
  const values = Float64Array.from(got);
  if (Array.isArray(want)) {
    assert.equal(values.length, want.length, `${what}: length`);
    assert.deepEqual(Array.from(values), want, what);
  } else {
    assert.equal(values.length, want.length, `${what}: length`);
    assert.equal(sha256(values), want.sha256, `${what}: values differ`);
  }
}

/** matplotlib's colour of t in [0, 1] under Normalize(0, 1): table entry floor(t * 256), 255 at 1 (t away from table edges). */
export function lutColour(cmap: string, t: number): number[] {
  const lut = reportRef().lut[cmap];
  const k = Math.min(255, Math.floor(t * 256));
  return lut.slice(k * 3, k * 3 + 3);
}
