// Helpers for the DICOM / NIfTI tests: fixture paths and the compressed reference arrays written by
// scripts/fixtures/medical_dicom.py and medical_nifti.py.

import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { fixture } from '../../support/fixtures.ts';

export const MEDICAL = fixture('medical');

export function medical(...parts: string[]): string {
  return fixture('medical', ...parts);
}

export function readRef<T>(name: string): T {
  return JSON.parse(readFileSync(medical(name), 'utf8')) as T;
}

/** zlib-compressed little-endian float64 array, base64. */
export function f64(z: string): Float64Array {
  const b = inflateSync(Buffer.from(z, 'base64'));
  const out = new Float64Array(b.length / 8);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** zlib-compressed uint8 array, base64. */
export function u8(z: string): Uint8Array {
  return new Uint8Array(inflateSync(Buffer.from(z, 'base64')));
}

function sameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length} (the reference has ${b.length})`);
}

/** Largest |a[i] - b[i]| (NaN when either is NaN at the same index and the other is not); different lengths are an error. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  sameLength(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

/** Number of differing elements; arrays of different lengths are an error (a truncated output never "matches"). */
export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  sameLength(a, b);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
