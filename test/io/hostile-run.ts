// Runs one hostile case (hostile-cases.ts) in a fresh Node process and checks the outcome: the reader's own error
// naming the file, a bounded time, a bounded peak memory, and no file written beside the input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

const CASES_FILE = join(import.meta.dirname, 'hostile-cases.ts');

export interface HostileOutcome {
  error: string | null;
  result?: string;
  ms: number;
  maxRssMB: number;
}

export interface HostileExpect {
  /** The error (name: message) the reader must throw; null when the file must be read. */
  error: RegExp | null;
  /** Generous bounds: the protection is structural, these only catch a regression by orders of magnitude. */
  maxSeconds: number;
  maxRssMB: number;
  /** Expected result text, for cases that read the file. */
  result?: string;
}

export function runHostile(t: TestContext, name: string, expect: HostileExpect): HostileOutcome {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-hostile-'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CASES_FILE, name, dir], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${name}: child failed (${r.status} ${r.signal ?? ''}):\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as HostileOutcome;
    t.diagnostic(`${name}: ${(out.ms / 1000).toFixed(2)} s, peak RSS ${out.maxRssMB.toFixed(0)} MB; ${out.error ?? out.result}`);
    if (expect.error) {
      assert.ok(out.error, `${name}: no error (${out.result ?? ''})`);
      assert.match(out.error, expect.error);
    } else {
      assert.equal(out.error, null);
      if (expect.result !== undefined) assert.equal(out.result, expect.result);
    }
    assert.ok(out.ms < expect.maxSeconds * 1000, `${name}: took ${out.ms.toFixed(0)} ms`);
    assert.ok(out.maxRssMB < expect.maxRssMB, `${name}: peak RSS ${out.maxRssMB.toFixed(0)} MB`);
    // The case writes its input file (at most one); the reader must write nothing.
    assert.ok(readdirSync(dir).length <= 1, `${name}: files written beside the input: ${readdirSync(dir).join(', ')}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
