// Assembling MVFA training samples from files: masks matched by stem and checked, official ×11 augmentation.
import { basename, extname, join } from 'node:path';
import { readdirSync } from 'node:fs';
import { decodeImage, loadImageTensor, loadMask } from '../io/image/image.ts';
import { type TrainSample } from '../mvfa/trainer.ts';
import { augment11, binarizeMask } from './augment.ts';
import { DatasetError } from './datasets.ts';
import { compareCodePoints, isImageFileName } from './layout.ts';

export type AugmentMode = 'none' | 'mvfa';

export interface TrainingFiles {
  abnormal: { path: string; mask: string | null }[];
  normal: string[];
}

function stemOf(p: string): string {
  const b = basename(p);
  return b.slice(0, b.length - extname(b).length);
}

/** Lists images of a folder (sorted by code point like Python's sorted); an empty folder is an error. */
export function listImages(dir: string, what: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter(isImageFileName).sort(compareCodePoints);
  } catch {
    throw new DatasetError(`${what} folder ${dir}: cannot be read`);
  }
  if (names.length === 0) throw new DatasetError(`${what} folder ${dir}: contains no usable images`);
  return names.map((n) => join(dir, n));
}

/**
 * Pairs abnormal images with masks of the same file stem in `masksDir`. A mask without an image, or an abnormal
 * image without a mask, is an error naming the file.
 */
export function trainingFiles(normalDir: string, abnormalDir: string, masksDir?: string): TrainingFiles {
  const normal = listImages(normalDir, 'normal');
  const abnormalPaths = listImages(abnormalDir, 'abnormal');
  if (!masksDir) return { normal, abnormal: abnormalPaths.map((path) => ({ path, mask: null })) };
  const masks = new Map(listImages(masksDir, 'masks').map((m) => [stemOf(m), m]));
  const abnormal = abnormalPaths.map((path) => {
    const mask = masks.get(stemOf(path));
    if (!mask) throw new DatasetError(`${path}: no mask with the same name in ${masksDir}`);
    masks.delete(stemOf(path));
    return { path, mask };
  });
  for (const m of masks.values()) throw new DatasetError(`${m}: mask without an abnormal image of the same name in ${abnormalDir}`);
  return { normal, abnormal };
}

/**
 * Checks, before any training, that every mask has its image's size and is binary (at most two grey levels, e.g.
 * 0/255); a grey-level or anti-aliased mask would be silently thresholded at 0.5 otherwise.
 */
export async function checkMaskSizes(files: TrainingFiles): Promise<void> {
  for (const a of files.abnormal) {
    if (!a.mask) continue;
    const [im, m] = await Promise.all([decodeImage(a.path), decodeImage(a.mask)]);
    if (im.width !== m.width || im.height !== m.height) {
      throw new DatasetError(`${a.mask}: mask is ${m.width}×${m.height} but its image ${a.path} is ${im.width}×${im.height}`);
    }
    const levels = new Set<number>();
    for (let i = 0; i < m.data.length && levels.size <= 2; i += m.channels) levels.add(m.data[i]);
    if (levels.size > 2) throw new DatasetError(`${a.mask}: mask is not binary (more than two grey levels; expected e.g. 0 = background, 255 = anomaly)`);
  }
}

/**
 * Loads the training samples in the official order (abnormal images, then normal ones; with augmentation each
 * group is expanded ×11 type-major: all originals, then each rotation, translation and flip).
 */
export async function loadTrainingSamples(files: TrainingFiles, size: number, augment: AugmentMode, onLoaded?: () => void): Promise<TrainSample[]> {
  const abnormal: TrainSample[][] = [];
  for (const a of files.abnormal) {
    const image = (await loadImageTensor(a.path, { size })).tensor;
    const mask = a.mask ? Float32Array.from(await loadMask(a.mask, size)) : null;
    abnormal.push(expand(stemOf(a.path), image, mask, 1, size, augment));
    onLoaded?.();
  }
  const normal: TrainSample[][] = [];
  for (const p of files.normal) {
    normal.push(expand(stemOf(p), (await loadImageTensor(p, { size })).tensor, null, 0, size, augment));
    onLoaded?.();
  }
  return [...typeMajor(abnormal), ...typeMajor(normal)];
}

function expand(name: string, image: Float32Array, mask: Float32Array | null, label: 0 | 1, size: number, augment: AugmentMode): TrainSample[] {
  if (augment === 'none') return [{ name, image, mask, label }];
  const imgs = augment11(image, [3, size, size]);
  const masks = mask ? augment11(mask, [1, size, size]).map((m) => binarizeMask(m)) : null;
  return imgs.map((im, k) => ({ name: k === 0 ? name : `${name}#aug${k}`, image: im, mask: masks ? masks[k] : null, label }));
}

function typeMajor(groups: TrainSample[][]): TrainSample[] {
  const out: TrainSample[] = [];
  const n = groups[0]?.length ?? 0;
  for (let k = 0; k < n; k++) for (const g of groups) out.push(g[k]);
  return out;
}

/** The ×11 augmented versions of support images for a memory bank (type-major). */
export function augmentSupport(images: Float32Array[], size: number, augment: AugmentMode): Float32Array[] {
  if (augment === 'none') return images;
  const groups = images.map((im) => augment11(im, [3, size, size]));
  const out: Float32Array[] = [];
  for (let k = 0; k < 11; k++) for (const g of groups) out.push(g[k]);
  return out;
}
