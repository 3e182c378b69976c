// One input file through the Engine, as `mvfa predict` and the queue workers score it: the file is opened with
// `openMedicalImages` (2D images once, DICOM frames and NIfTI axial slices one at a time), each image is scored
// (`Engine.score`), its raw maps dumped and, with stored calibration, fused alone and its heatmap written. Without a
// calibration the run-level rule is applied later (./run-fusion.ts), over the raw results handed to `onRaw`.
import { join } from 'node:path';
import { type LoadMedicalOptions, type MedicalImageItem, openMedicalImages } from '../io/medical/medical-image.ts';
import { type RasterU8 } from '../io/image/resample.ts';
import { writeNpy } from '../io/weights/npy.ts';
import { type BranchScores, mean } from '../mvfa/fusion.ts';
import { type Engine } from './engine.ts';
import { writeHeatmapPng } from './heatmap.ts';
import { type WindowOption, dumpName } from './output-names.ts';

/** Where a run's per-image outputs go: heatmaps `<name>.png` into `out`, raw maps `<name>.<branch>.npy` into `dump`. */
export class OutputWriter {
  constructor(readonly dirs: { out?: string; dump?: string }) {}

  /** Writes the raw maps of one image (zero_seg, and few_seg / few_det when present) when there is a dump folder. */
  async dump(name: string, raw: BranchScores): Promise<void> {
    if (this.dirs.dump) await writeRawMaps(this.dirs.dump, name, raw);
  }

  /** Writes the heatmap overlay of one image when there is an output folder. */
  async heatmap(name: string, raster: RasterU8, map: Float32Array): Promise<void> {
    if (this.dirs.out) await writeHeatmapPng(raster, map, join(this.dirs.out, `${name}.png`));
  }
}

/** `<dir>/<name>.zero_seg.npy`, `.few_seg.npy`, `.few_det.npy`: float32 [S,S], the maps the raw result holds. */
export async function writeRawMaps(dir: string, name: string, raw: BranchScores): Promise<void> {
  const size = Math.sqrt(raw.zeroSeg.length);
  if (!Number.isInteger(size)) throw new RangeError(`a raw map of ${raw.zeroSeg.length} values is not square`);
  const shape = [size, size];
  const put = (branch: string, data: Float32Array) => writeNpy(join(dir, `${name}.${branch}.npy`), { dtype: 'float32', shape, data }, { overwrite: true });
  await put('zero_seg', raw.zeroSeg);
  if (raw.fewSeg) await put('few_seg', raw.fewSeg);
  if (raw.fewDet instanceof Float32Array) await put('few_det', raw.fewDet);
}

/** How files are decoded for a --window option (NIfTI has no 'minmax': its automatic window applies). */
export function windowLoadOptions(window: WindowOption): LoadMedicalOptions {
  return { dicomWindow: window, niftiWindow: window === 'minmax' ? 'auto' : window };
}

/** One scored image of an input file. */
export interface ScoredImage {
  file: string;
  /** Name of the image inside its file (`ct.dcm#frame=3`, `scan.nii.gz#z=042`; the file name for a 2D image). */
  item: string;
  /** Name of its output files (heatmap, dumps). */
  stem: string;
  /** Name in results: the file, or `file#slice` inside a volume. */
  shown: string;
  /** The file holds more than one image. */
  volume: boolean;
  zeroDet: number;
  /** Mean of the det memory-bank map (with that head). */
  fewDet?: number;
  /** Final score under the stored calibration; null: the run-level rule is still to be applied. */
  score: number | null;
}

export interface ScoreFileOptions {
  load: LoadMedicalOptions;
  writer: OutputWriter;
  /** Search the memory bank with both heads (the four official dumps). */
  allHeads?: boolean;
  /** Called with each image's raw result when no calibration applies (the run-level rule needs it); may spill it. */
  onRaw?: (image: ScoredImage, raw: BranchScores) => Promise<void>;
}

/** A file's or one of its images' failure; the file's name is in `input`. */
export interface ImageFailure {
  input: string;
  error: unknown;
}

/**
 * Scores every image of one file with the engine's model. A file that cannot be opened, or stops decoding part way,
 * gives a failure for the file (the images scored before stay); an image that fails gives a failure of its own.
 */
export async function scoreFile(engine: Engine, file: string, o: ScoreFileOptions): Promise<{ images: ScoredImage[]; failures: ImageFailure[] }> {
  const images: ScoredImage[] = [];
  const failures: ImageFailure[] = [];
  const calibrated = !!engine.model?.calibration;
  try {
    const stream = await openMedicalImages(file, o.load);
    for await (const item of stream) {
      try {
        const raw = await engine.score(item.raster, { allHeads: o.allHeads });
        const s = scoredImage(file, item, stream.count, raw);
        await o.writer.dump(s.stem, raw);
        if (calibrated) {
          // Final now: the heatmap is written while the raster is at hand.
          const p = engine.fuse([raw]).predictions[0];
          await o.writer.heatmap(s.stem, item.raster, p.map);
          s.score = p.score;
        } else await o.onRaw?.(s, raw);
        images.push(s);
      } catch (e) {
        failures.push({ input: item.name === file ? file : `${file} (${item.name})`, error: e });
      }
    }
  } catch (e) {
    failures.push({ input: file, error: e });
  }
  return { images, failures };
}

function scoredImage(file: string, item: MedicalImageItem, count: number, raw: BranchScores): ScoredImage {
  const hash = item.name.indexOf('#');
  return {
    file,
    item: item.name,
    stem: dumpName(file, item, count),
    shown: hash < 0 ? file : `${file}${item.name.slice(hash)}`,
    volume: count > 1,
    zeroDet: raw.zeroDet,
    ...(raw.fewDet ? { fewDet: mean(raw.fewDet) } : {}),
    score: null,
  };
}

/** A result row of results.json (see `ResultRow`). */
export type ImageRow<S extends number | null = number | null> = { image: string; score: S; zero_det: number; few_det?: number };

/** The result row of an image: `score` null while the run-level rule is pending. */
export function resultRow<S extends number | null>(s: ScoredImage, score: S): ImageRow<S> {
  return { image: s.shown, score, ...rawValues(s) };
}

/** The dump's scores.json entry of an image: its raw values, and its score when final. */
export function dumpEntry(s: ScoredImage, score: number | null): Record<string, number> {
  return score === null ? rawValues(s) : { ...rawValues(s), score };
}

function rawValues(s: ScoredImage): { zero_det: number; few_det?: number } {
  return s.fewDet === undefined ? { zero_det: s.zeroDet } : { zero_det: s.zeroDet, few_det: s.fewDet };
}

/** Max over the images of one volume. */
export interface VolumeSummary {
  slices: number;
  max: number;
  argmax: string;
}

/** Adds an image's value to its volume's summary (a new summary for the first image). */
export function addToVolume(v: VolumeSummary | undefined, value: number, item: string): VolumeSummary {
  const out = v ?? { slices: 0, max: -Infinity, argmax: '' };
  out.slices++;
  if (value > out.max) {
    out.max = value;
    out.argmax = item;
  }
  return out;
}

/**
 * Decodes a file again, one image at a time, for images scored before: `each(k, raster)` for the k-th of `names`
 * (in the order they were scored) when the file yields it. A file of one image matches any name. Errors propagate;
 * the images reached before an error have been handled.
 */
export async function revisitImages(
  file: string,
  names: readonly string[],
  load: LoadMedicalOptions,
  each: (k: number, raster: RasterU8) => Promise<void>,
): Promise<void> {
  const stream = await openMedicalImages(file, load);
  const at = new Map(names.map((n, k) => [n, k]));
  let left = names.length;
  for await (const item of stream) {
    if (left === 0) break;
    const k = at.get(item.name) ?? (stream.count === 1 ? 0 : undefined);
    if (k === undefined || k >= names.length) continue;
    at.delete(item.name);
    left--;
    await each(k, item.raster);
  }
}
