// Shared helpers for the io tests: fixture paths (fixtures/io, or the reference suite's fresh copy), reference loading,
// seeded randomness.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tensorBytes, type HostTensor } from '../../src/io/weights/tensor.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { fixture as fixtureOf, REPO } from '../support/fixtures.ts';
export const rng = mulberry32;

export const FIXTURES = fixtureOf('io');
/** The Python fixture scripts (used only by the *.reference.test.ts files). */
export const SCRIPTS = join(REPO, 'scripts', 'fixtures');

export function fixture(...parts: string[]): string {
  return fixtureOf('io', ...parts);
}

export interface TensorRefJson {
  dtype: string;
  shape: number[];
  b64: string;
}

export function readJson<T>(path: string): T {
  const raw = readFileSync(path);
  return JSON.parse((path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as T;
}

/** Asserts dtype, shape and the exact little-endian bytes of a tensor against a reference. */
export function assertTensorMatches(t: HostTensor | undefined, ref: TensorRefJson, what: string): void {
  assert.ok(t, `${what}: missing`);
  assert.equal(t.dtype, ref.dtype, `${what}: dtype`);
  assert.deepEqual(t.shape, ref.shape, `${what}: shape`);
  assert.equal(
    t.data.length,
    ref.shape.reduce((a, b) => a * b, 1),
    `${what}: element count`,
  );
  const want = Buffer.from(ref.b64, 'base64');
  assert.ok(Buffer.from(tensorBytes(t)).equals(want), `${what}: bytes differ`);
}

export function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-io-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** Asserts that `fn` rejects with exactly `message` (and an Error subclass). */
export async function assertRejectsWith(fn: () => Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof Error, 'not an Error');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}
