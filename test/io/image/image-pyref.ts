// Pillow / PyTorch references of the image and resampling tests, committed in fixtures/images by
// scripts/fixtures/image_cases.py (`npm run test:reference` regenerates them with live Python). Each case holds the
// reference output's length and SHA-256, and for some cases the output itself (small ones inline, the ones compared
// within a tolerance in a zlib file).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { mulberry32 } from '../../../src/util/random.ts';
import { fixture, REPO } from '../../support/fixtures.ts';
import { countDiff, maxAbsDiff } from '../../support/compare.ts';

/** The real BUSI images bundled for the demo. */
export const DEMO = join(REPO, 'demo', 'BUSI_demo_AD');
/** Real inputs as named in scripts/fixtures/image_cases.py. */
export const BUSI_A = join(DEMO, 'test/good/img/busi_0071.png'); // grey 320x310
export const BUSI_B = join(DEMO, 'test/good/img/busi_0212.png'); // grey 320x240
export const BUSI_C = join(DEMO, 'valid/Ungood/img/busi_0479.png'); // grey 211x320
export const MS = fixture('images-real', 'ms_0001.png'); // grey 320x320 MS FLAIR slice
export const REAL_MASKS = [
  join(DEMO, 'test/Ungood/anomaly_mask/busi_0001.png'),
  join(DEMO, 'test/Ungood/anomaly_mask/busi_0004.png'),
  join(DEMO, 'valid/Ungood/anomaly_mask/busi_0479.png'),
  fixture('images-real', 'ms_0001_mask.png'),
];

/** A file of the committed set: images('png', 'rgb240.png'), images('rgb_real.png'). */
export function images(...parts: string[]): string {
  return fixture('images', ...parts);
}

export interface ImageCase {
  length: number;
  sha256: string;
  b64?: string;
  file?: string;
  mode?: string;
  size?: [number, number];
  input_sha256?: string;
}

interface ImageRef {
  pil: string;
  torch: string;
  cases: Record<string, ImageCase>;
}

let cache: ImageRef | undefined;
function ref(): ImageRef {
  cache ??= JSON.parse(readFileSync(images('image.json'), 'utf8')) as ImageRef;
  return cache;
}

export const referenceVersions = (): { pil: string; torch: string } => ({ pil: ref().pil, torch: ref().torch });

/** The reference of one case; a missing case fails (the committed set does not match the test). */
export function imageCase(key: string): ImageCase {
  const c = ref().cases[key];
  assert.ok(c, `no reference for '${key}' in fixtures/images/image.json (regenerate the set)`);
  return c;
}

export function sha256(data: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

/** The stored output bytes of a case (inline or zlib file), checked against its length and SHA-256. */
export function caseBytes(key: string): Uint8Array {
  const c = imageCase(key);
  let bytes: Uint8Array;
  if (c.b64 !== undefined) bytes = new Uint8Array(Buffer.from(c.b64, 'base64'));
  else if (c.file !== undefined) bytes = new Uint8Array(inflateSync(readFileSync(images(c.file))));
  else throw new Error(`'${key}': only the SHA-256 of the reference is stored`);
  assert.equal(bytes.length, c.length, `'${key}': stored reference length`);
  assert.equal(sha256(bytes), c.sha256, `'${key}': stored reference is corrupt`);
  return bytes;
}

export function caseF32(key: string): Float32Array {
  const b = caseBytes(key);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function caseI32(key: string): Int32Array {
  const b = caseBytes(key);
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * Bit-exact comparison with a reference: byte length first, then the bytes (by SHA-256 where only the digest is
 * stored; with the number of differing elements where the output itself is stored).
 */
export function assertSameBytes(got: ArrayBufferView, key: string, what = key): void {
  const c = imageCase(key);
  assert.equal(got.byteLength, c.length, `${what}: ${got.byteLength} bytes, the reference has ${c.length}`);
  if (sha256(got) === c.sha256) return;
  if (c.b64 !== undefined || c.file !== undefined) {
    const want = caseBytes(key);
    const mine = new Uint8Array(got.buffer, got.byteOffset, got.byteLength);
    assert.fail(`${what}: ${countDiff(mine, want)} of ${want.length} bytes differ (max ${maxAbsDiff(mine, want)})`);
  }
  assert.fail(`${what}: output differs from the reference`);
}

/** n float32 values 2r - 1 with r from mulberry32(seed) (scripts/fixtures/image_cases.py builds the same). */
export function uniformF32(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 2 * r() - 1;
  return out;
}

export function makeTempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-image-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export { countDiff, maxAbsDiff };
