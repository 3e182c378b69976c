/**
 * Helpers for the eval tests: deterministic data, and the reference values committed in fixtures/eval
 * (scripts/fixtures/eval_cases.py rebuilds the same inputs from the same seeds and runs scikit-learn, scipy and
 * numpy on them; `npm run test:reference` regenerates them with live Python). Each reference records the SHA-256
 * of the inputs it was computed on, and the tests check it against their own inputs first.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { mulberry32 } from '../../src/util/random.ts';
import { fixture } from '../support/fixtures.ts';
export const prng = mulberry32;

/** A committed reference file of fixtures/eval (JSON). */
export function evalReference<T>(name: string): T {
  return JSON.parse(readFileSync(fixture('eval', name), 'utf8')) as T;
}

/** Raw bytes of a zlib-compressed reference file of fixtures/eval. */
export function evalReferenceBytes(name: string): Buffer {
  return inflateSync(readFileSync(fixture('eval', name)));
}

/** SHA-256 (hex) of a typed array's bytes. */
export function sha256(data: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

/** Fails unless the reference was computed on exactly these bytes. */
export function assertSameInput(data: ArrayBufferView, expected: string | undefined, what: string): void {
  assert.ok(expected, `${what}: no reference (regenerate fixtures/eval)`);
  assert.equal(sha256(data), expected, `${what}: the reference was computed on different inputs (regenerate fixtures/eval)`);
}

/** Reads a typed array of `Ctor` from raw little-endian bytes. */
export function viewAs<T>(bytes: Buffer, Ctor: new (b: ArrayBuffer) => T): T {
  return new Ctor(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}
