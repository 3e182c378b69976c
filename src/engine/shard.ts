// Static sharding of a scoring run (#13): `mvfa predict --shard I/N` scores the I-th of N disjoint parts of the
// input list. The parts are fixed by the sorted, de-duplicated list of input files, so every shard of the same
// inputs agrees on them whatever order the paths were given in, and the union over I = 1..N is the whole run.
// A file is never split: the slices of a volume stay in the shard of their file.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { RefusedInputError } from '../util/errors.ts';

export interface ShardSpec {
  /** 1-based shard number. */
  index: number;
  /** Number of shards. */
  count: number;
}

/** What a shard writes beside its results (`shard.json`), so that `mvfa merge` can check coverage. */
export interface ShardManifest extends ShardSpec {
  /** Files in the whole run (all shards together). */
  total: number;
  /** sha256 of the whole run's sorted input list: shards of different runs are never merged. */
  digest: string;
  /** This shard's input files, in run order. */
  files: string[];
}

export const SHARD_MANIFEST = 'shard.json';

/** Refused input: exit code 2. */
export class ShardError extends RefusedInputError {
  override readonly name = 'ShardError';
}

/** Parses `I/N` (1 ≤ I ≤ N). */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ShardError(`--shard must be I/N (for example 3/8), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new ShardError(`--shard ${text}: need 1 ≤ I ≤ N`);
  return { index, count };
}

/** The run's input list: normalised paths, de-duplicated, sorted by code unit (independent of locale). */
export function runInputs(files: readonly string[]): string[] {
  const set = new Set(files.map((f) => normalize(f)));
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function inputsDigest(sorted: readonly string[]): string {
  return createHash('sha256').update(sorted.join('\n')).digest('hex');
}

/** Half-open index range [start, end) of shard I of N over n files: contiguous, sizes differ by at most one. */
export function shardRange(n: number, s: ShardSpec): [number, number] {
  return [Math.floor(((s.index - 1) * n) / s.count), Math.floor((s.index * n) / s.count)];
}

/** The files of one shard, with the manifest that identifies them. */
export function selectShard(files: readonly string[], s: ShardSpec): ShardManifest {
  const all = runInputs(files);
  const [a, b] = shardRange(all.length, s);
  return { index: s.index, count: s.count, total: all.length, digest: inputsDigest(all), files: all.slice(a, b) };
}

/** Writes `shard.json` into each given output folder (after the shard's results, so its presence marks a finished shard). */
export async function writeShardManifest(dirs: readonly (string | undefined)[], m: ShardManifest): Promise<void> {
  for (const d of dirs) if (d) await writeFile(join(d, SHARD_MANIFEST), `${JSON.stringify(m, null, 1)}\n`);
}
