/**
 * Scanning a dataset folder into file lists (spec §6.1).
 *
 * Two on-disk layouts are accepted, per class folder:
 *
 *   MVFA layout (all six sets in MVFA's tarballs, and BMAD's AS sets):
 *     {valid,test}/good/img/*            normal images
 *     {valid,test}/Ungood/img/*          abnormal images
 *     {valid,test}/Ungood/anomaly_mask/* masks, same file name as the image (AC+AS only)
 *
 *   BMAD's original layout for classification-only sets (e.g. camelyon16): no `img/` level,
 *     {valid,test}/good/*  and  {valid,test}/Ungood/*
 *
 * A `train/` folder (BMAD's all-normal training set) is never read: MVFA does not use it.
 *
 * Masks are matched by file name inside `Ungood/anomaly_mask/`. The reference few-shot test
 * loader instead derives the mask path with `path.replace('img', 'anomaly_mask')` on the
 * *whole* path, which silently points at the wrong place whenever the data root or a file name
 * contains the substring `img` (e.g. `/data/img_sets/Brain_AD/...`). That behaviour is not
 * reproduced here.
 *
 * Strictness: a missing split or class folder, an empty image folder, an abnormal image without
 * a mask, or a mask without an image (AC+AS sets) raise a DatasetError naming the path. Files
 * without an image extension (png, jpg, jpeg, tif, tiff, bmp, webp; any case) and hidden files
 * (name starting with '.') are not images and are ignored; sub-folders other than `img/` and
 * `anomaly_mask/` are ignored too.
 *
 * Order: file names sorted by Unicode code point (what Python's `sorted` does on the reference
 * side); the official test order is all sorted normals, then all sorted abnormals.
 */
import { existsSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { DATASETS, DatasetError, genericDatasetInfo, hasMasks, isBmadKey, type BmadKey, type DatasetInfo, type Task } from './datasets.ts';

export type SplitName = 'valid' | 'test';

export interface SplitFiles {
  /** Sorted normal image paths (from `good/`). */
  readonly normals: string[];
  /** Sorted abnormal image paths (from `Ungood/`). */
  readonly abnormals: string[];
  /** Abnormal image path → mask path; empty for AC-only datasets. */
  readonly masks: Map<string, string>;
}

export interface LabeledImage {
  readonly path: string;
  /** 0 = normal, 1 = abnormal. */
  readonly label: 0 | 1;
  /** Mask path for abnormal images of AC+AS datasets, otherwise null. */
  readonly mask: string | null;
}

export interface Dataset {
  /** Absolute path of the dataset folder. */
  readonly dir: string;
  readonly info: DatasetInfo;
  readonly valid: SplitFiles;
  readonly test: SplitFiles;
}

export interface OpenOptions {
  /** Prompt object name; required for folders other than the six BMAD ones. */
  readonly organ?: string;
  /** Task; for other folders inferred from the presence of an `anomaly_mask` folder. */
  readonly task?: Task;
}

export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp']);

const IMG_DIR = 'img';
const MASK_DIR = 'anomaly_mask';

/** Compares by Unicode code point (Python's str ordering), not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

export function isImageFileName(name: string): boolean {
  return !name.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function entryIsFile(dir: string, e: Dirent): boolean {
  if (e.isFile()) return true;
  if (e.isSymbolicLink()) {
    try {
      return statSync(join(dir, e.name)).isFile();
    } catch {
      return false;
    }
  }
  return false;
}

/** Sorted image file names (not paths) directly inside `dir`. */
export function listImageNames(dir: string): string[] {
  if (!isDir(dir)) throw new DatasetError(`missing folder: ${dir}`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => isImageFileName(e.name) && entryIsFile(dir, e))
    .map((e) => e.name)
    .sort(compareCodePoints);
}

/**
 * The folder holding the images of one class folder (`good/` or `Ungood/`): `img/` when it
 * exists (MVFA layout), the class folder itself otherwise (BMAD's AC-only layout).
 */
export function classImageDir(classDir: string): string {
  if (!isDir(classDir)) throw new DatasetError(`missing folder: ${classDir}`);
  const imgDir = join(classDir, IMG_DIR);
  if (!isDir(imgDir)) return classDir;
  const loose = listImageNames(classDir);
  if (loose.length > 0) {
    throw new DatasetError(`ambiguous layout: ${classDir} has both an '${IMG_DIR}/' folder and images directly inside (e.g. ${join(classDir, loose[0])})`);
  }
  return imgDir;
}

function scanClass(classDir: string): string[] {
  const dir = classImageDir(classDir);
  const names = listImageNames(dir);
  if (names.length === 0) throw new DatasetError(`no images in ${dir}`);
  return names.map((n) => join(dir, n));
}

/** Pairs every abnormal image with `anomaly_mask/<same file name>`; both directions are checked. */
function pairMasks(ungoodDir: string, abnormals: readonly string[]): Map<string, string> {
  const maskDir = join(ungoodDir, MASK_DIR);
  if (!isDir(maskDir)) throw new DatasetError(`missing mask folder: ${maskDir}`);
  const maskNames = new Set(listImageNames(maskDir));
  const masks = new Map<string, string>();
  const imageNames = new Set<string>();
  for (const img of abnormals) {
    const name = basename(img);
    imageNames.add(name);
    const maskPath = join(maskDir, name);
    if (!maskNames.has(name)) throw new DatasetError(`missing mask ${maskPath} for abnormal image ${img}`);
    masks.set(img, maskPath);
  }
  for (const name of maskNames) {
    if (!imageNames.has(name)) {
      throw new DatasetError(`mask without an image: ${join(maskDir, name)} (no ${name} among the abnormal images)`);
    }
  }
  return masks;
}

/** Scans `{root}/{split}` (both layouts). Masks are paired only for AC+AS. */
export function scanSplit(root: string, split: SplitName, task: Task): SplitFiles {
  const splitDir = join(resolve(root), split);
  if (!isDir(splitDir)) throw new DatasetError(`missing split folder: ${splitDir}`);
  const normals = scanClass(join(splitDir, 'good'));
  const ungoodDir = join(splitDir, 'Ungood');
  const abnormals = scanClass(ungoodDir);
  const masks = hasMasks(task) ? pairMasks(ungoodDir, abnormals) : new Map<string, string>();
  return { normals, abnormals, masks };
}

/** AC+AS when any `{valid,test}/Ungood/anomaly_mask` folder exists, AC otherwise. */
export function inferTask(dir: string): Task {
  const root = resolve(dir);
  for (const split of ['valid', 'test'] as const) {
    if (isDir(join(root, split, 'Ungood', MASK_DIR))) return 'AC+AS';
  }
  return 'AC';
}

/**
 * Opens a dataset folder and scans its `valid/` and `test/` splits.
 *
 * - A folder named `{Key}_AD` for one of the six BMAD keys gets the official info (organ,
 *   task, CLASS_INDEX); `opts.organ` / `opts.task`, when given, override organ and task.
 * - Any other folder (`NAME_AD`) needs `opts.organ`; its task is `opts.task` or inferred.
 */
export function openDataset(dir: string, opts: OpenOptions = {}): Dataset {
  const root = resolve(dir);
  if (!existsSync(root)) throw new DatasetError(`missing dataset folder: ${root}`);
  if (!isDir(root)) throw new DatasetError(`not a folder: ${root}`);
  const folder = basename(root);
  const bmadKey = folder.endsWith('_AD') ? folder.slice(0, -3) : '';
  let info: DatasetInfo;
  if (isBmadKey(bmadKey)) {
    const base = DATASETS[bmadKey];
    info =
      opts.organ === undefined && opts.task === undefined ? base : Object.freeze({ ...base, organ: opts.organ ?? base.organ, task: opts.task ?? base.task });
  } else {
    if (opts.organ === undefined) {
      throw new DatasetError(`dataset folder ${root} is not one of the BMAD sets: an organ name is required`);
    }
    info = genericDatasetInfo(folder, opts.organ, opts.task ?? inferTask(root));
  }
  return { dir: root, info, valid: scanSplit(root, 'valid', info.task), test: scanSplit(root, 'test', info.task) };
}

/** `{dataRoot}/{Key}_AD` opened with the official info. */
export function openBmadDataset(dataRoot: string, key: BmadKey): Dataset {
  return openDataset(join(dataRoot, DATASETS[key].folder));
}

/** Official evaluation order: sorted normals (label 0), then sorted abnormals (label 1). */
export function orderedItems(split: SplitFiles): LabeledImage[] {
  const out: LabeledImage[] = split.normals.map((path) => ({ path, label: 0 as const, mask: null }));
  for (const path of split.abnormals) out.push({ path, label: 1, mask: split.masks.get(path) ?? null });
  return out;
}
