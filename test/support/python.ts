// The Python interpreter used by the reference suite (`npm run test:reference`): $MVFA_PYTHON, else `python3` on PATH.
// `npm test` never calls it: its references are committed under fixtures/ (see scripts/references.mjs).
import { spawnSync } from 'node:child_process';

export const PYTHON = process.env.MVFA_PYTHON ?? 'python3';

/** Runs a Python script (path, args) and returns stdout; throws with the script's stderr when it fails or Python is missing. */
export function runPython(script: string, args: readonly string[] = [], input?: string): string {
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`${PYTHON} could not be started (${r.error.message}); set MVFA_PYTHON to a Python with the reference packages`);
  if (r.status !== 0) throw new Error(`${PYTHON} ${script} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout;
}
