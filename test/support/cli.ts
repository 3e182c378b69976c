// Runs the `mvfa` command as a user does (a child process of bin/mvfa.js), for end-to-end tests.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './fixtures.ts';

export interface CliResult {
  /** Exit code; -1 when the process was killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

/** `mvfa …args` with MVFA_CACHE set to `cacheDir` (and any extra environment variables). */
export function runMvfa(args: readonly string[], cacheDir: string, env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/mvfa.js'), ...args], { encoding: 'utf8', env: { ...process.env, MVFA_CACHE: cacheDir, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
