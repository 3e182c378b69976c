// The official min–max rule over a run (adapters without stored calibration) without keeping every image's maps in
// memory: while images are scored, `add` folds each image into the run's per-branch ranges (running min/max) and
// spills its seg maps to a folder; after the run, `fuse(k)` reads image k's maps back and applies the formula with
// the run's ranges. The numbers equal `fuseResults` over the whole run: min and max do not depend on the order, and
// the det memory-bank map enters the formula only through its mean, which is kept.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BranchRanges, type BranchScores, type FusionRule, type Range, type Task, fuse, mean, rangeOf, unionRange } from '../mvfa/fusion.ts';
import { type LoadMedicalOptions } from '../io/medical/medical-image.ts';
import { type Prediction } from './predict.ts';
import { type OutputWriter, type ScoredImage, revisitImages } from './score-files.ts';

/** What is kept in memory per image: its scalars and map sizes. */
interface Kept {
  zeroDet: number;
  fewDet?: number;
  zeroSeg: number;
  fewSeg: number;
}

export class RunFusion {
  private readonly kept: Kept[] = [];
  private zeroSeg: Range | null = null;
  private fewSeg: Range | null = null;
  private zeroDet: Range | null = null;
  private fewDet: Range | null = null;
  private everyFewSeg = true;
  private everyFewDet = true;

  private constructor(
    readonly task: Task,
    /** Folder of the spilled maps (removed by `close`). */
    readonly dir: string,
  ) {}

  /** A run with its spill folder: a new hidden folder in `parent` (default: the system's temporary folder). */
  static async open(task: Task, parent?: string): Promise<RunFusion> {
    return new RunFusion(task, await mkdtemp(join(parent ?? tmpdir(), '.mvfa-run-')));
  }

  /** Images added. */
  get images(): number {
    return this.kept.length;
  }

  /** Adds one image's raw result (spilled first: an image whose maps cannot be kept is not part of the run). Returns its index. */
  async add(raw: BranchScores): Promise<number> {
    const k = this.kept.length;
    const few = raw.fewSeg ?? new Float32Array(0);
    const bytes = new Uint8Array((raw.zeroSeg.length + few.length) * 4);
    const all = new Float32Array(bytes.buffer);
    all.set(raw.zeroSeg);
    all.set(few, raw.zeroSeg.length);
    await writeFile(join(this.dir, `${k}.f32`), bytes);
    // The ranges of `runRanges`: a few-shot range only when every image has that branch; empty maps are left out.
    const r = (a: ArrayLike<number>, prev: Range | null) => (prev ? unionRange(prev, rangeOf([a])) : rangeOf([a]));
    if (raw.zeroSeg.length > 0) this.zeroSeg = r(raw.zeroSeg, this.zeroSeg);
    if (raw.fewSeg) this.fewSeg = r(raw.fewSeg, this.fewSeg);
    else this.everyFewSeg = false;
    this.zeroDet = r([raw.zeroDet], this.zeroDet);
    const fewDet = raw.fewDet ? mean(raw.fewDet) : undefined;
    if (fewDet !== undefined) this.fewDet = r([fewDet], this.fewDet);
    else this.everyFewDet = false;
    this.kept.push({ zeroDet: raw.zeroDet, fewDet, zeroSeg: raw.zeroSeg.length, fewSeg: raw.fewSeg ? raw.fewSeg.length : -1 });
    return k;
  }

  /** The rule over the images added so far. */
  get rule(): FusionRule {
    return { kind: 'run-min-max', images: this.kept.length };
  }

  /** The run's ranges (as `runRanges` of every image added). */
  ranges(): BranchRanges {
    if (this.kept.length === 0) throw new RangeError('min–max needs at least one image');
    const fewDet = this.everyFewDet ? this.fewDet : null;
    return {
      zeroSeg: this.zeroSeg ?? { min: 0, max: 0 },
      fewSeg: this.everyFewSeg ? this.fewSeg : null,
      zeroDet: fewDet ? this.zeroDet : null,
      fewDet,
    };
  }

  /** Image k fused with the run's ranges (its maps read back from the spill folder). */
  async fuse(k: number, ranges: BranchRanges = this.ranges()): Promise<Prediction> {
    const raw = await this.raw(k);
    return { ...fuse(raw, ranges, this.task), raw, rule: this.rule };
  }

  /** Image k's raw result; the det memory-bank map is its mean alone (all the formula reads of it). */
  async raw(k: number): Promise<BranchScores> {
    const s = this.kept[k];
    const bytes = await readFile(join(this.dir, `${k}.f32`));
    const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return {
      zeroSeg: all.subarray(0, s.zeroSeg),
      zeroDet: s.zeroDet,
      ...(s.fewSeg >= 0 ? { fewSeg: all.subarray(s.zeroSeg, s.zeroSeg + s.fewSeg) } : {}),
      ...(s.fewDet !== undefined ? { fewDet: Float64Array.of(s.fewDet) } : {}),
    };
  }

  /** Removes the spill folder. */
  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The second pass of a run: the score of every image (`images[k]` is image k of the run) with the run's ranges and,
 * with an output folder, its heatmap, the files decoded again one at a time. A file that no longer decodes is
 * reported to `onError` (its images are still scored).
 */
export async function fuseScored(
  run: RunFusion,
  images: readonly ScoredImage[],
  writer: OutputWriter,
  load: LoadMedicalOptions,
  onError: (file: string, e: unknown) => void,
): Promise<number[]> {
  if (images.length !== run.images) throw new Error(`${images.length} scored images but ${run.images} in the run`);
  const ranges = run.ranges();
  const scores: (number | undefined)[] = new Array<number | undefined>(images.length);
  for (let i = 0; i < images.length;) {
    const file = images[i].file;
    let j = i;
    while (j < images.length && images[j].file === file) j++;
    if (writer.dirs.out) {
      const group = images.slice(i, j);
      const failed: { e?: unknown } = {};
      try {
        await revisitImages(
          file,
          group.map((s) => s.item),
          load,
          async (k, raster) => {
            try {
              const p = await run.fuse(i + k, ranges);
              scores[i + k] = p.score;
              await writer.heatmap(group[k].stem, raster, p.map);
            } catch (e) {
              failed.e = e;
              throw e;
            }
          },
        );
      } catch (e) {
        if ('e' in failed) throw failed.e;
        onError(file, e);
      }
    }
    for (let k = i; k < j; k++) scores[k] ??= (await run.fuse(k, ranges)).score;
    i = j;
  }
  return scores as number[];
}
