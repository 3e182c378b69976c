/**
 * Few-shot support sets (spec §4.1, §6.3, Appendix A).
 *
 * Seed-list format (`{K}-shot.txt`): whitespace-separated lines, in any order,
 *   a-{iterate}: <abnormal file names from valid/Ungood/img>
 *   n-{iterate}: <normal file names from valid/good/img>
 * A line is selected by its first token; the first matching line wins. The official lists
 * (only iterate 0 exists) are bundled under `fewshot_seed/{Key}/{K}-shot.txt`. As in the
 * reference loader, the first K names of a line are used; a line with fewer than K names, a
 * missing line, or a name that does not resolve to a file is a DatasetError naming the seed
 * file (the reference loader additionally drops names not ending in .png/.jpeg; here every
 * listed name must exist instead).
 *
 * The support set is K abnormal + K normal images of `valid/`, plus the abnormal images'
 * masks for AC+AS datasets.
 *
 * `drawFewShotSplit` draws other support sets deterministically with mulberry32 (a 32-bit
 * state generator: state += 0x6D2B79F5, then an xorshift-multiply output mix; outputs in
 * [0, 1) as uint32 / 2^32). From the sorted file lists it takes K normals first, then K
 * abnormals, each by a partial Fisher–Yates shuffle driven by one generator stream; the
 * selected names keep their draw order.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATASETS, DatasetError, hasMasks, isBmadKey, type BmadKey, type Task } from './datasets.ts';
import { classImageDir, inferTask, type SplitFiles } from './layout.ts';
import { mulberry32 } from '../util/random.ts';
export { mulberry32 };

/** Shot counts with official lists. */
export const SHOT_COUNTS: readonly number[] = Object.freeze([2, 4, 8, 16]);

export interface SeedList {
  /** Names from the `a-{iterate}:` line (abnormal, valid/Ungood). */
  readonly abnormal: string[];
  /** Names from the `n-{iterate}:` line (normal, valid/good). */
  readonly normal: string[];
}

export interface FewShotSplit {
  /** K normal image paths, in list order. */
  readonly normals: string[];
  /** K abnormal image paths, in list order. */
  readonly abnormals: string[];
  /** Abnormal image path → mask path (AC+AS datasets), otherwise empty. */
  readonly masks: Map<string, string>;
  /** The seed list used, or null for a drawn split. */
  readonly seedFile: string | null;
  /** The PRNG seed of a drawn split, or null for a listed one. */
  readonly seed: number | null;
}

export interface FewShotOptions {
  /** Which `a-{i}:` / `n-{i}:` lines to read (default 0, the only official one). */
  readonly iterate?: number;
  /** Task of the dataset; default: official for BMAD keys/folders, else inferred from the folder. */
  readonly task?: Task;
}

function checkShot(k: number): void {
  if (!Number.isInteger(k) || k <= 0) throw new DatasetError(`shot count must be a positive integer, got ${k}`);
}

/** Parses the text of a seed file; `source` is only used in error messages. */
export function parseSeedList(text: string, source: string, iterate = 0): SeedList {
  let abnormal: string[] | null = null;
  let normal: string[] | null = null;
  for (const line of text.split(/\r?\n/)) {
    const tokens = line
      .trim()
      .split(/\s+/)
      .filter((t) => t !== '');
    if (tokens.length === 0) continue;
    if (tokens[0] === `a-${iterate}:` && abnormal === null) abnormal = tokens.slice(1);
    else if (tokens[0] === `n-${iterate}:` && normal === null) normal = tokens.slice(1);
  }
  if (abnormal === null) throw new DatasetError(`seed file ${source} has no 'a-${iterate}:' line`);
  if (normal === null) throw new DatasetError(`seed file ${source} has no 'n-${iterate}:' line`);
  return { abnormal, normal };
}

export function readSeedFile(path: string, iterate = 0): SeedList {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new DatasetError(`cannot read seed file ${path}`);
  }
  return parseSeedList(text, path, iterate);
}

/** Serialises a list in the official format (abnormal line first). */
export function formatSeedList(list: SeedList, iterate = 0): string {
  return `a-${iterate}: ${list.abnormal.join(' ')}\nn-${iterate}: ${list.normal.join(' ')}\n`;
}

/** Folder of the bundled official lists. */
export const BUNDLED_SEED_DIR: string = fileURLToPath(new URL('./fewshot_seed/', import.meta.url));

export function bundledSeedFile(key: BmadKey, k: number): string {
  checkShot(k);
  return join(BUNDLED_SEED_DIR, key, `${k}-shot.txt`);
}

/** `{datasetDir}/fewshot_seed/{K}-shot.txt` (a dataset's own list; may not exist). */
export function datasetSeedFile(datasetDir: string, k: number): string {
  checkShot(k);
  return join(resolve(datasetDir), 'fewshot_seed', `${k}-shot.txt`);
}

function folderKey(datasetDir: string): BmadKey | null {
  const folder = basename(resolve(datasetDir));
  const key = folder.endsWith('_AD') ? folder.slice(0, -3) : '';
  return isBmadKey(key) ? key : null;
}

/**
 * Which seed file a run uses:
 * - `source` one of the six keys → the bundled official list;
 * - `source` any other string → that path;
 * - `source` omitted → the dataset's own `fewshot_seed/{K}-shot.txt` when present, else the
 *   bundled list when the folder is `{Key}_AD` of a BMAD key, else a DatasetError.
 */
export function resolveSeedFile(datasetDir: string, k: number, source?: string): string {
  checkShot(k);
  if (source !== undefined) return isBmadKey(source) ? bundledSeedFile(source, k) : resolve(source);
  const own = datasetSeedFile(datasetDir, k);
  if (existsSync(own)) return own;
  const key = folderKey(datasetDir);
  if (key !== null) return bundledSeedFile(key, k);
  throw new DatasetError(`no seed list for ${k}-shot: ${own} does not exist and ${resolve(datasetDir)} is not a BMAD folder`);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function pickNames(names: readonly string[], k: number, what: string, seedFile: string): string[] {
  if (names.length < k) {
    throw new DatasetError(`seed file ${seedFile} lists ${names.length} ${what} names, ${k} needed`);
  }
  return names.slice(0, k);
}

/**
 * The K-shot support set of `datasetDir` from a seed list (see `resolveSeedFile` for `source`).
 * Names resolve against `valid/Ungood/img` and `valid/good/img` (or `valid/Ungood`,
 * `valid/good` in BMAD's AC-only layout); masks against `valid/Ungood/anomaly_mask`.
 */
export function fewShotSplit(datasetDir: string, source: string | undefined, k: number, opts: FewShotOptions = {}): FewShotSplit {
  checkShot(k);
  const root = resolve(datasetDir);
  const seedFile = resolveSeedFile(root, k, source);
  const list = readSeedFile(seedFile, opts.iterate ?? 0);
  const key = source !== undefined && isBmadKey(source) ? source : folderKey(root);
  const task: Task = opts.task ?? (key !== null ? DATASETS[key].task : inferTask(root));

  const resolveAll = (names: string[], classDir: string, what: string): string[] => {
    const dir = classImageDir(classDir);
    return names.map((name) => {
      const p = join(dir, name);
      if (!isFile(p)) throw new DatasetError(`seed file ${seedFile} lists ${what} image '${name}', not found: ${p}`);
      return p;
    });
  };
  const normals = resolveAll(pickNames(list.normal, k, 'normal', seedFile), join(root, 'valid', 'good'), 'normal');
  const ungood = join(root, 'valid', 'Ungood');
  const abnormals = resolveAll(pickNames(list.abnormal, k, 'abnormal', seedFile), ungood, 'abnormal');
  const masks = new Map<string, string>();
  if (hasMasks(task)) {
    for (const img of abnormals) {
      const m = join(ungood, 'anomaly_mask', basename(img));
      if (!isFile(m)) throw new DatasetError(`seed file ${seedFile}: missing mask ${m} for abnormal image ${img}`);
      masks.set(img, m);
    }
  }
  return { normals, abnormals, masks, seedFile, seed: null };
}

function sample(items: readonly string[], k: number, rand: () => number): string[] {
  const pool = items.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (pool.length - i));
    const tmp = pool[i];
    pool[i] = pool[j];
    pool[j] = tmp;
  }
  return pool.slice(0, k);
}

/** A seeded K-shot draw from a scanned `valid/` split (K normals, then K abnormals). */
export function drawFewShotSplit(valid: SplitFiles, k: number, seed: number): FewShotSplit {
  checkShot(k);
  if (!Number.isInteger(seed)) throw new DatasetError(`seed must be an integer, got ${seed}`);
  if (valid.normals.length < k) throw new DatasetError(`cannot draw ${k} normal images from ${valid.normals.length}`);
  if (valid.abnormals.length < k) throw new DatasetError(`cannot draw ${k} abnormal images from ${valid.abnormals.length}`);
  const rand = mulberry32(seed);
  const normals = sample(valid.normals, k, rand);
  const abnormals = sample(valid.abnormals, k, rand);
  const masks = new Map<string, string>();
  for (const img of abnormals) {
    const m = valid.masks.get(img);
    if (m !== undefined) masks.set(img, m);
  }
  return { normals, abnormals, masks, seedFile: null, seed };
}

/** The drawn (or listed) split as a seed list of file names. */
export function toSeedList(split: FewShotSplit): SeedList {
  return { abnormal: split.abnormals.map((p) => basename(p)), normal: split.normals.map((p) => basename(p)) };
}
