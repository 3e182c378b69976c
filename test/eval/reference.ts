/**
 * Helpers for the eval tests: deterministic data, and reference values computed on the fly by the
 * Python scripts in scripts/fixtures/ (system /usr/bin/python3 with numpy, scipy, scikit-learn and
 * scikit-image). A missing interpreter or module is an error, never a skip.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mulberry32 } from '../../src/util/random.ts';
export const prng = mulberry32;

export const PYTHON = '/usr/bin/python3';
const SCRIPTS = resolve(import.meta.dirname, '../../scripts/fixtures');

/** A temporary directory for one test file's reference run. */
export class ReferenceDir {
  readonly path = mkdtempSync(join(tmpdir(), 'mvfa-eval-'));

  /** Writes a typed array as a raw little-endian file and returns its name. */
  write(name: string, data: ArrayBufferView): string {
    writeFileSync(join(this.path, name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return name;
  }

  writeJson(name: string, value: unknown): void {
    writeFileSync(join(this.path, name), JSON.stringify(value));
  }

  readJson<T>(name: string): T {
    return JSON.parse(readFileSync(join(this.path, name), 'utf8')) as T;
  }

  /** Raw bytes of a file written by the reference script. */
  read(name: string): Buffer {
    return readFileSync(join(this.path, name));
  }

  /** Runs scripts/fixtures/<script> on this directory; throws with Python's output on failure. */
  runScript(script: string): void {
    if (!existsSync(PYTHON)) {
      throw new Error(`${PYTHON} is required for the eval reference tests ` + '(apt-get install python3-sklearn python3-scipy python3-skimage)');
    }
    const r = spawnSync(PYTHON, [join(SCRIPTS, script), this.path], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) {
      throw new Error(`${script} failed (status ${r.status}, ${r.error?.message ?? ''}):\n${r.stderr}${r.stdout}`);
    }
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Reads a typed array of `Ctor` from raw little-endian bytes. */
export function viewAs<T>(bytes: Buffer, Ctor: new (b: ArrayBuffer) => T): T {
  return new Ctor(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}
