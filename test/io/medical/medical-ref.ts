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

export { countDiff, maxAbsDiff } from '../../support/compare.ts';
