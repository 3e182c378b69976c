// `mvfa merge`: joins the outputs of `mvfa predict --shard I/N` runs into the output of one unsharded run (#13).
// A shard folder is a `predict --out` folder (results.json, heatmaps) and/or a `--dump` folder (scores.json, .npy
// maps), each with the shard.json that `--shard` writes. Shards must come from the same input list (same digest),
// cover 1..N exactly once and not overlap; anything else is refused before a file is written.
import { constants, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeNpy } from '../io/weights/npy.ts';
import { type DumpEntry, RunRuleError, isRunLevel, refuseOverRun, writeRefusedHeatmaps } from './merge-rule.ts';
import { type Prediction } from './predict.ts';
import { SHARD_MANIFEST, type ShardManifest } from './shard.ts';
import { RefusedInputError } from '../util/errors.ts';

/** Refused input: exit code 2. */
export class MergeError extends RefusedInputError {
  override readonly name = 'MergeError';
}

/** One result row of `results.json` (the schema of `predict --out`): `image` is the file, or `file#slice` inside a volume. */
export interface ResultRow {
  image: string;
  [field: string]: unknown;
}

export interface FailureRow {
  input: string;
  reason: string;
}

/** `results.json` of `predict --out`: run-wide fields (adapters, organ, rule, …) plus per-image rows. */
export interface ResultsDocument {
  results: ResultRow[];
  volumes: Record<string, unknown>;
  failures: FailureRow[];
  [field: string]: unknown;
}

interface ShardDir {
  dir: string;
  manifest: ShardManifest;
}

export interface MergeOptions {
  /** Folder for the merged results.json (and heatmaps). */
  out: string;
  /** Folder for the merged dump (scores.json, .npy maps); required when dump shards are given. */
  dump?: string;
}

export interface MergeSummary {
  shards: number;
  files: number;
  results: number;
  failures: number;
  copied: number;
}

async function readJson<T>(path: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new MergeError(`${path}: missing (${what})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new MergeError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

async function readShard(dir: string): Promise<ShardDir> {
  const m = await readJson<ShardManifest>(join(dir, SHARD_MANIFEST), 'not the output of `mvfa predict --shard I/N`, or the shard did not finish');
  if (!Number.isInteger(m.index) || !Number.isInteger(m.count) || typeof m.digest !== 'string' || !Array.isArray(m.files))
    throw new MergeError(`${join(dir, SHARD_MANIFEST)}: not a shard manifest`);
  return { dir, manifest: m };
}

/** Checks that the shards of one kind are one complete run: same inputs, each of 1..N once, no file twice. */
export function checkCoverage(shards: readonly ShardDir[], kind: string): ShardDir[] {
  const first = shards[0].manifest;
  for (const s of shards) {
    if (s.manifest.count !== first.count || s.manifest.digest !== first.digest)
      throw new MergeError(
        `${s.dir} is shard ${s.manifest.index}/${s.manifest.count} of another input list than ${shards[0].dir} (${first.index}/${first.count}); shards must come from the same inputs and N`,
      );
  }
  const byIndex = new Map<number, ShardDir>();
  for (const s of shards) {
    const prev = byIndex.get(s.manifest.index);
    if (prev) throw new MergeError(`overlapping shards: ${prev.dir} and ${s.dir} are both ${kind} shard ${s.manifest.index}/${first.count}`);
    byIndex.set(s.manifest.index, s);
  }
  const missing: number[] = [];
  for (let i = 1; i <= first.count; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length) throw new MergeError(`missing ${kind} shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${first.count}`).join(', ')}`);
  const ordered = [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i)!);
  const owner = new Map<string, string>();
  let n = 0;
  for (const s of ordered) {
    for (const f of s.manifest.files) {
      const o = owner.get(f);
      if (o) throw new MergeError(`overlapping shards: ${f} is in both ${o} and ${s.dir}`);
      owner.set(f, s.dir);
      n++;
    }
  }
  if (n !== first.total) throw new MergeError(`the ${kind} shards hold ${n} files, but the run had ${first.total}`);
  return ordered;
}

/** The input file a result row or failure belongs to (`file#slice` → `file`, `file (slice)` → `file`). */
function inputOf(image: string, files: ReadonlySet<string>): string {
  if (files.has(image)) return image;
  const hash = image.indexOf('#');
  if (hash > 0 && files.has(image.slice(0, hash))) return image.slice(0, hash);
  const paren = image.indexOf(' (');
  if (paren > 0 && files.has(image.slice(0, paren))) return image.slice(0, paren);
  return image;
}

/** What must agree between shards of one run: the rule's kind and source (a run-level rule's image count is per shard). */
function sameRunKey(k: string, v: unknown): unknown {
  if (k !== 'rule' || v === null || typeof v !== 'object') return v;
  const r = v as { kind?: unknown; source?: unknown };
  return { kind: r.kind, source: r.source };
}

/** Joins results documents of complete, ordered shards; run-wide fields must agree. */
export function joinResults(shards: readonly { dir: string; manifest: ShardManifest; doc: ResultsDocument }[]): ResultsDocument {
  const head: Record<string, unknown> = {};
  const results: ResultRow[] = [];
  const volumes: Record<string, unknown> = {};
  const failures: FailureRow[] = [];
  for (const s of shards) {
    const { results: rows, volumes: vols, failures: fails, ...rest } = s.doc;
    if (!Array.isArray(rows) || !Array.isArray(fails)) throw new MergeError(`${join(s.dir, 'results.json')}: no results/failures lists`);
    for (const [k, v] of Object.entries(rest)) {
      if (!(k in head)) head[k] = v;
      else if (JSON.stringify(sameRunKey(k, head[k])) !== JSON.stringify(sameRunKey(k, v)))
        throw new MergeError(`${s.dir}: '${k}' is ${JSON.stringify(v)} but ${shards[0].dir} has ${JSON.stringify(head[k])}; shards of one run use one model`);
    }
    const own = new Set(s.manifest.files);
    for (const r of rows) {
      if (!own.has(inputOf(r.image, own)))
        throw new MergeError(`${join(s.dir, 'results.json')}: ${r.image} is not an input of shard ${s.manifest.index}/${s.manifest.count}`);
      results.push(r);
    }
    Object.assign(volumes, vols ?? {});
    failures.push(...fails);
  }
  return { ...head, results, volumes, failures };
}

async function copyNew(src: string, dst: string): Promise<void> {
  try {
    await copyFile(src, dst, constants.COPYFILE_EXCL);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new MergeError(`${dst} already exists; merge into an empty folder`);
    throw e;
  }
}

/** Copies every other file of the shard folders: .npy maps into the dump folder (when there is one), the rest (heatmaps) into out. */
async function copyFiles(dirs: readonly string[], out: string, dump: string | undefined, skipPng: boolean): Promise<number> {
  const skip = new Set(['results.json', 'scores.json', SHARD_MANIFEST]);
  let n = 0;
  for (const d of dirs) {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (!e.isFile() || skip.has(e.name) || e.name.startsWith('.') || (skipPng && e.name.endsWith('.png'))) continue;
      await copyNew(join(d, e.name), join(dump && e.name.endsWith('.npy') ? dump : out, e.name));
      n++;
    }
  }
  return n;
}

function refuseExisting(path: string): void {
  if (existsSync(path)) throw new MergeError(`${path} already exists; merge into an empty folder`);
}

/**
 * `scores.npy` beside a results.json: the image scores (float64) in the order of its results, for
 * `mvfa metrics auroc --scores DIR/scores.npy --labels LABELS.npy` with labels in the same (sorted input) order.
 */
export async function writeScoresNpy(dir: string, doc: ResultsDocument): Promise<void> {
  const data = Float64Array.from(doc.results, (r) => (typeof r.score === 'number' ? r.score : NaN));
  await writeNpy(join(dir, 'scores.npy'), { dtype: 'float64', shape: [data.length], data });
}

/** Merges shard folders into `o.out` (and `o.dump`). Nothing is written when a check fails. */
export async function mergeShards(dirs: readonly string[], o: MergeOptions): Promise<MergeSummary> {
  if (dirs.length === 0) throw new MergeError('no shard folders given');
  const all = await Promise.all(dirs.map(readShard));
  const outShards = all.filter((s) => existsSync(join(s.dir, 'results.json')));
  const dumpShards = all.filter((s) => existsSync(join(s.dir, 'scores.json')));
  for (const s of all)
    if (!outShards.includes(s) && !dumpShards.includes(s))
      throw new MergeError(`${s.dir}: neither results.json nor scores.json (not a predict --out or --dump folder)`);
  if (outShards.length === 0) throw new MergeError('no results.json among the shard folders: give the predict --out folders of every shard');
  const outs = checkCoverage(outShards, 'result');
  const dumps = dumpShards.length ? checkCoverage(dumpShards, 'dump') : [];
  if (dumps.length && dumps[0].manifest.digest !== outs[0].manifest.digest)
    throw new MergeError('the dump folders come from another run than the results folders');
  if (dumps.length && !o.dump) throw new MergeError('dump folders given: pass --dump DIR for their merged copy');

  const docs = await Promise.all(outs.map(async (s) => ({ ...s, doc: await readJson<ResultsDocument>(join(s.dir, 'results.json'), 'shard results') })));
  let doc = joinResults(docs);

  const entries: DumpEntry[] = [];
  let scores: Record<string, Record<string, number>> = {};
  for (const s of dumps) {
    const part = await readJson<Record<string, Record<string, number>>>(join(s.dir, 'scores.json'), 'shard dump scores');
    for (const [stem, values] of Object.entries(part)) {
      if (stem in scores) throw new MergeError(`overlapping dumps: ${stem} is in more than one shard (last: ${s.dir})`);
      entries.push({ dir: s.dir, stem, values });
    }
    scores = { ...scores, ...part };
  }
  // Without stored calibration the scores depend on the whole run: fuse the union again from the raw maps.
  let predictions: Prediction[] | null = null;
  if (isRunLevel(doc)) {
    if (!dumps.length)
      throw new MergeError(
        "these shards were fused with the run-level rule (min–max over the run; the adapters store no calibration): give each shard's --dump folder too, so that the union can be fused again",
      );
    try {
      ({ doc, predictions } = await refuseOverRun(doc, entries));
    } catch (e) {
      if (e instanceof RunRuleError) throw new MergeError(e.message);
      throw e;
    }
    entries.forEach((e, i) => (scores[e.stem] = { ...scores[e.stem], score: predictions![i].score }));
  }

  // Checks done: write. Outputs are created, never overwritten.
  await mkdir(o.out, { recursive: true });
  refuseExisting(join(o.out, 'results.json'));
  refuseExisting(join(o.out, 'scores.npy'));
  if (o.dump && dumps.length) {
    await mkdir(o.dump, { recursive: true });
    refuseExisting(join(o.dump, 'scores.json'));
  }
  const copied = await copyFiles([...new Set([...outs, ...dumps].map((s) => s.dir))], o.out, dumps.length ? o.dump : undefined, predictions !== null);
  if (o.dump && dumps.length) await writeFile(join(o.dump, 'scores.json'), `${JSON.stringify(scores, null, 1)}\n`, { flag: 'wx' });
  await writeFile(join(o.out, 'results.json'), `${JSON.stringify(doc, null, 1)}\n`, { flag: 'wx' });
  await writeScoresNpy(o.out, doc);
  if (predictions) await writeRefusedHeatmaps(doc, entries, predictions, o.out);
  return { shards: outs.length, files: outs[0].manifest.total, results: doc.results.length, failures: doc.failures.length, copied };
}
