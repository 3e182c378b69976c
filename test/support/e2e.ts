// End-to-end test inputs and expected values, all inside the repository:
// - images from the bundled demo subset (demo/BUSI_demo_AD, with its attribution);
// - the PyTorch/numpy/scikit-learn reference of fixtures/e2e-ref (scripts/fixtures/e2e_ref.py), computed for the tiny
//   seeded CLIP (tiny-clip.ts, seed 0) and the adapters initAdapters(…, 111), which a run with FROZEN_LR keeps;
// - the official single-image rule (MVFA spec §5.3 with stored ranges), written here from the rule itself, to recompute a
//   score from raw branch outputs (dumps) of adapters that were really trained.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readNpy } from '../../src/io/weights/npy.ts';
import { toFloat32 } from '../../src/io/weights/tensor.ts';
import { REPO, fixture } from './fixtures.ts';

export const DEMO = join(REPO, 'demo/BUSI_demo_AD');

/** A learning rate at which Adam cannot move a weight (every step is below half an ulp): the adapters stay initAdapters(seed). */
export const FROZEN_LR = 1e-30;
/** The seed of the reference adapters (initAdapters(128, 32, [1, 2], 111)); also the CLI's default seed. */
export const REF_SEED = 111;
/** The organ of the reference text features (its BPE ids are in fixtures/clip/tokenizer_ids.json). */
export const REF_ORGAN = 'Brain';

export interface Range {
  min: number;
  max: number;
}
export interface Ranges {
  zeroSeg: Range;
  fewSeg: Range;
  zeroDet: Range;
  fewDet: Range;
}
export interface E2eRef {
  text_features: number[][];
  embed: { images: string[]; size: number; rows: number[][] };
  train: { normals: string[]; abnormals: string[]; masks: string[]; calibration: Ranges };
  predict: { image: string; zero_det: number; few_det: number; zero_seg_max: number; few_seg_max: number; score_acas: number; score_ac: number }[];
  bench_few: {
    shots: number;
    support: string[];
    test: string[];
    labels: number[];
    acas: { scores: number[]; image_auroc: number; pixel_auroc: number };
    ac: { scores: number[]; image_auroc: number };
  };
  bench_zero: { test: string[]; labels: number[]; scores: number[]; image_auroc: number; pixel_auroc: number };
}

let cached: E2eRef | undefined;
/** fixtures/e2e-ref/ref.json (paths in it are relative to the repository; `repoPath` resolves them). */
export function e2eRef(): E2eRef {
  cached ??= JSON.parse(readFileSync(fixture('e2e-ref', 'ref.json'), 'utf8')) as E2eRef;
  return cached;
}

export function repoPath(rel: string): string {
  return join(REPO, rel);
}

/** The reference maps [images, 3, 56, 56] (zero_seg, few_seg, few_det) of e2eRef().predict, one image's map k. */
export async function refMap(image: number, k: 0 | 1 | 2): Promise<Float32Array> {
  const a = await readNpy(fixture('e2e-ref', 'maps.npy'));
  const n = a.shape[2] * a.shape[3];
  return toFloat32(a).slice((image * 3 + k) * n, (image * 3 + k + 1) * n);
}

/** Sorted image files of a demo folder, e.g. demoFiles('valid/good/img'). */
export function demoFiles(sub: string): string[] {
  return readdirSync(join(DEMO, sub))
    .sort()
    .map((f) => join(DEMO, sub, f));
}

/** Copies files into `dir` (created) under their own names; returns the new paths. */
export function copyInto(dir: string, files: readonly string[]): string[] {
  mkdirSync(dir, { recursive: true });
  return files.map((f) => {
    copyFileSync(f, join(dir, basename(f)));
    return join(dir, basename(f));
  });
}

/** The reference training folders (2 normal, 2 abnormal with masks) copied under `dir`: normal/, abnormal/, masks/. */
export function referenceTrainingSet(dir: string): { normal: string; abnormal: string; masks: string } {
  const r = e2eRef().train;
  copyInto(join(dir, 'normal'), r.normals.map(repoPath));
  copyInto(join(dir, 'abnormal'), r.abnormals.map(repoPath));
  copyInto(join(dir, 'masks'), r.masks.map(repoPath));
  return { normal: join(dir, 'normal'), abnormal: join(dir, 'abnormal'), masks: join(dir, 'masks') };
}

/** Asserts |got − want| ≤ tol and returns the error (for the test's diagnostics). */
export function near(got: number, want: number, tol: number, what: string): number {
  const e = Math.abs(got - want);
  assert.ok(Number.isFinite(got) && e <= tol, `${what}: ${got} vs reference ${want} (error ${e.toExponential(2)} > ${tol})`);
  return e;
}

export { maxAbsDiff } from './compare.ts';

// ---- the official rule, from raw branch outputs ------------------------------------------------------------------

function minMax(values: Iterable<number>): Range {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { min, max };
}

function meanOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

export interface RawDump {
  zeroSeg: ArrayLike<number>;
  zeroDet: number;
  fewSeg?: ArrayLike<number>;
  fewDet?: ArrayLike<number>;
}

/** Ranges of a calibration set: every pixel of the zero-shot and memory-bank maps, the det scores, the mean det maps. */
export function rangesOf(raws: readonly RawDump[]): Partial<Ranges> {
  const out: Partial<Ranges> = {
    zeroSeg: minMax(raws.flatMap((r) => Array.from(r.zeroSeg))),
    zeroDet: minMax(raws.map((r) => r.zeroDet)),
  };
  if (raws.every((r) => r.fewSeg)) out.fewSeg = minMax(raws.flatMap((r) => Array.from(r.fewSeg!)));
  if (raws.every((r) => r.fewDet)) out.fewDet = minMax(raws.map((r) => meanOf(r.fewDet!)));
  return out;
}

/** norm(v) = (v − min)/(max − min) with stored ranges. */
function norm(v: number, r: Range): number {
  return (v - r.min) / (r.max - r.min);
}

/**
 * Single-image score: AC+AS → max over pixels of 0.5·norm(zero_seg) + 0.5·norm(few_seg) (zero_seg alone without a
 * memory bank); AC → 0.5·norm(zero_det) + 0.5·norm(mean few_det) (zero_det alone without a bank).
 */
export function officialScore(raw: RawDump, cal: { [K in keyof Ranges]?: Range | null }, task: 'AC+AS' | 'AC'): number {
  if (task === 'AC+AS') {
    let best = -Infinity;
    for (let p = 0; p < raw.zeroSeg.length; p++) {
      const z = norm(raw.zeroSeg[p], cal.zeroSeg!);
      const v = raw.fewSeg ? 0.5 * z + 0.5 * norm(raw.fewSeg[p], cal.fewSeg!) : z;
      best = Math.max(best, v);
    }
    return best;
  }
  const z = norm(raw.zeroDet, cal.zeroDet!);
  return raw.fewDet ? 0.5 * z + 0.5 * norm(meanOf(raw.fewDet), cal.fewDet!) : z;
}

/** Reads `mvfa predict --dump` outputs of one image stem. */
export async function readDump(dump: string, stem: string): Promise<RawDump> {
  const scores = JSON.parse(readFileSync(join(dump, 'scores.json'), 'utf8')) as Record<string, { zero_det: number }>;
  const load = async (k: string) => {
    try {
      return toFloat32(await readNpy(join(dump, `${stem}.${k}.npy`)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || /no such file|ENOENT/.test((e as Error).message)) return undefined;
      throw e;
    }
  };
  assert.ok(scores[stem], `${stem} in scores.json`);
  return { zeroSeg: (await load('zero_seg'))!, zeroDet: scores[stem].zero_det, fewSeg: await load('few_seg'), fewDet: await load('few_det') };
}
