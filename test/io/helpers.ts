// Shared helpers for the io tests: fixture paths, reference loading, python invocation, seeded randomness.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensorBytes, type HostTensor } from '../../src/io/tensor.ts';
import { mulberry32 } from '../../src/util/random.ts';
export const rng = mulberry32;

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'io');
export const SCRIPTS = join(import.meta.dirname, '..', '..', 'scripts', 'fixtures');
export const PYTHON = '/usr/bin/python3';

export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export interface TensorRefJson {
  dtype: string;
  shape: number[];
  b64: string;
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
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

/** Runs a python fixture script; fails loudly (never skips) when python or a module is missing. */
export function runPython(script: string, args: string[]): string {
  const r = spawnSync(PYTHON, [join(SCRIPTS, script), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`cannot run ${PYTHON}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
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
