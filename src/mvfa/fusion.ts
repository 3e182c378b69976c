// Fusion of MVFA's zero-shot (text) and few-shot (memory-bank) branches: the method's formula, in one place.
//
// Official rule (train_few.py:276-306 = test_few.py:215-245, test_zero.py:146-164): each branch is min–max
// normalised over the whole evaluated set, `norm(A) = (A − min A)/(max A − min A)`, then averaged 0.5/0.5:
//   AC+AS with a memory bank: map = 0.5·norm(S_zero) + 0.5·norm(S_few), image score = max of the map;
//   AC with a memory bank:    score = 0.5·norm(c_zero) + 0.5·norm(mean S_few(det)), map = norm(S_zero) (the
//                             official code has no AC pixel map; a seg memory-bank map, if present, is not used);
//   no memory bank (zero-shot mode): score = c_zero (the det head, for every task; raw, as the official code
//   ranks it), map = norm(S_zero).
// A stored calibration also maps c_zero with its range in zero-shot mode, so calibrated scores are about 0..1.
// The ranges come either from the images of a run (`runRanges`, `fuseRun`: the official, transductive rule) or
// from a calibration set stored with the adapters (`Calibration`, `fuseCalibrated`: one image can be scored
// alone). `fuse` is the one formula both use. Values outside a stored range are not clipped (ranking kept).
import { MVFA_DEFAULTS } from './defaults.ts';

export type Task = 'AC+AS' | 'AC';

/** Smallest and largest value of a branch. */
export interface Range {
  min: number;
  max: number;
}

/** Raw branch outputs of one image (the official dumps): independent of the other images of a run. */
export interface BranchScores {
  /** Σ over levels of the seg abnormal-probability maps, [S,S]. */
  zeroSeg: Float32Array;
  /** Σ over levels of the mean det abnormal probability. */
  zeroDet: number;
  /** Σ over levels of the seg memory-bank distance maps, [S,S] (with a memory bank). */
  fewSeg?: Float32Array;
  /**
   * Σ over levels of the det memory-bank distance maps, [S,S] (with a memory bank). Only its mean enters the
   * score, so callers that keep no maps may store the mean alone (one value, float64 to keep it exact).
   */
  fewDet?: Float32Array | Float64Array;
}

/**
 * Per-branch ranges; a few-shot range is null when the branch is absent. `zeroDet` is null when the det score
 * stays raw (a run without a det memory bank).
 */
export interface BranchRanges {
  zeroSeg: Range;
  fewSeg: Range | null;
  zeroDet: Range | null;
  fewDet: Range | null;
}

/** Ranges stored with adapters for single-image scoring. */
export interface Calibration extends BranchRanges {
  zeroDet: Range;
  task: Task;
  /** What the ranges were computed from. */
  source: string;
}

/** Which rule produced a score: stored calibration, or min–max over the images of a run. */
export type FusionRule = { kind: 'calibration'; source: string } | { kind: 'run-min-max'; images: number };

export interface FusedPrediction {
  /** Image-level anomaly score. */
  score: number;
  /** Pixel-level anomaly map [S,S]. */
  map: Float32Array;
}

/** Words for a rule, as printed and recorded in results files. */
export function describeRule(rule: FusionRule): string {
  return rule.kind === 'calibration'
    ? `stored calibration (${rule.source})`
    : `official min–max over the ${rule.images} image${rule.images === 1 ? '' : 's'} of the run`;
}

/**
 * Minimum and maximum over all elements of all arrays. Throws a RangeError when there is no element at all or
 * when a value is NaN or ±Infinity (naming the array and index).
 */
export function rangeOf(arrays: Iterable<ArrayLike<number>>): Range {
  let min = Infinity;
  let max = -Infinity;
  let k = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (!Number.isFinite(v)) throw new RangeError(`array ${k}: score ${v} at index ${i} is not a finite number`);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    k++;
  }
  if (min > max) throw new RangeError('min–max needs at least one value');
  return { min, max };
}

/** The range of two ranges together (min–max over a union of runs). */
export function unionRange(a: Range, b: Range): Range {
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

/** (v − min)/(max − min) in float64; a degenerate range (max = min) maps everything to 0. */
export function normalize(v: number, r: Range): number {
  const d = r.max - r.min;
  return d > 0 ? (v - r.min) / d : 0;
}

/**
 * Maps `a` in place to `(a − min)/(max − min)` and returns it. Float32Array input is rounded to float32 at every
 * step (difference, range, quotient), so the result is bit-identical to the same expression on numpy float32
 * arrays; Float64Array input uses float64. A degenerate range (max = min) gives 0 everywhere, where numpy would
 * give NaN from 0/0: a constant branch carries no ranking, and 0 keeps fusion and metrics defined.
 */
export function normalizeInPlace<T extends Float32Array | Float64Array>(a: T, min: number, max: number): T {
  if (Number.isNaN(min) || Number.isNaN(max)) throw new RangeError('min and max must not be NaN');
  if (a instanceof Float32Array) {
    const lo = Math.fround(min);
    const hi = Math.fround(max);
    if (hi === lo) return a.fill(0) as T;
    const range = Math.fround(hi - lo);
    // Each operation on two float32 values in float64 then rounded to float32 is the correctly rounded float32
    // operation (float64 has more than 2·24 + 2 significand bits).
    for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i] - lo) / range;
    return a;
  }
  if (max === min) return a.fill(0) as T;
  const range = max - min;
  for (let i = 0; i < a.length; i++) a[i] = (a[i] - min) / range;
  return a;
}

/** (a − min)/(max − min) of a float32 map as a new map (see `normalizeInPlace`). */
export function normalizeMap(a: Float32Array, r: Range): Float32Array {
  return normalizeInPlace(a.slice(), r.min, r.max);
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/**
 * Per-branch ranges over a set of images, as the official code takes them (a few-shot range only when every
 * image has that branch; the det score's range only when it is fused with a det memory bank). Maps may be left
 * empty by callers that keep no pixel maps (image-level tasks); the zero-shot map range is then {0, 0}.
 */
export function runRanges(raws: readonly BranchScores[]): BranchRanges {
  const r = calibrationRanges(raws);
  return { ...r, zeroDet: r.fewDet ? r.zeroDet : null };
}

function calibrationRanges(raws: readonly BranchScores[]): Omit<Calibration, 'task' | 'source'> {
  if (raws.length === 0) throw new RangeError('min–max needs at least one image');
  const seg = raws.every((s) => s.fewSeg);
  const det = raws.every((s) => s.fewDet);
  const maps = raws.map((s) => s.zeroSeg).filter((m) => m.length > 0);
  return {
    zeroSeg: maps.length ? rangeOf(maps) : { min: 0, max: 0 },
    fewSeg: seg ? rangeOf(raws.map((s) => s.fewSeg!)) : null,
    zeroDet: rangeOf([raws.map((s) => s.zeroDet)]),
    fewDet: det ? rangeOf([raws.map((s) => mean(s.fewDet!))]) : null,
  };
}

/** The range of two sets of ranges together (merging runs: equal to `runRanges` of the union). */
export function unionRanges(a: BranchRanges, b: BranchRanges): BranchRanges {
  const opt = (x: Range | null, y: Range | null) => (x && y ? unionRange(x, y) : null);
  return { zeroSeg: unionRange(a.zeroSeg, b.zeroSeg), fewSeg: opt(a.fewSeg, b.fewSeg), zeroDet: opt(a.zeroDet, b.zeroDet), fewDet: opt(a.fewDet, b.fewDet) };
}

/** Calibration for single-image scoring: the ranges over a calibration set (the training images). */
export function calibrate(samples: readonly BranchScores[], task: Task, source: string): Calibration {
  return { task, ...calibrationRanges(samples), source };
}

/** The formula: one image's branches with given ranges (see the header for the three cases). */
export function fuse(b: BranchScores, r: BranchRanges, task: Task): FusedPrediction {
  const w = MVFA_DEFAULTS.fusionWeights;
  const zero = normalizeMap(b.zeroSeg, r.zeroSeg);
  let map = zero;
  if (task === 'AC+AS' && b.fewSeg && r.fewSeg) {
    const few = normalizeMap(b.fewSeg, r.fewSeg);
    map = new Float32Array(zero.length);
    for (let i = 0; i < map.length; i++) map[i] = w.zero * zero[i] + w.few * few[i];
  }
  let score: number;
  if (task === 'AC+AS' && b.fewSeg && r.fewSeg) {
    score = -Infinity;
    for (let i = 0; i < map.length; i++) if (map[i] > score) score = map[i];
  } else if (task === 'AC' && b.fewDet && r.fewDet && r.zeroDet) {
    score = w.zero * normalize(b.zeroDet, r.zeroDet) + w.few * normalize(mean(b.fewDet), r.fewDet);
  } else score = r.zeroDet ? normalize(b.zeroDet, r.zeroDet) : b.zeroDet;
  return { score, map };
}

/** Single-image rule: the formula with the stored calibration ranges. */
export function fuseCalibrated(b: BranchScores, cal: Calibration): FusedPrediction {
  return fuse(b, cal, cal.task);
}

/**
 * The official rule over a run: ranges over all `raws`, then the formula for each. Pure: the result depends
 * only on the raw results given (in any order), so shards of a run scored apart and merged give the same numbers.
 */
export function fuseRun(raws: readonly BranchScores[], task: Task): { ranges: BranchRanges; rule: FusionRule; fused: FusedPrediction[] } {
  const ranges = runRanges(raws);
  return { ranges, rule: { kind: 'run-min-max', images: raws.length }, fused: raws.map((b) => fuse(b, ranges, task)) };
}

/** Checks a calibration read from a file; `where` names the file in errors. */
export function parseCalibration(json: string, where: string): Calibration {
  let c: unknown;
  try {
    c = JSON.parse(json);
  } catch (e) {
    throw new Error(`${where}: calibration is not valid JSON (${(e as Error).message})`);
  }
  const isRange = (x: unknown): x is Range =>
    typeof x === 'object' && x !== null && Number.isFinite((x as Range).min) && Number.isFinite((x as Range).max) && (x as Range).min <= (x as Range).max;
  const o = c as Record<string, unknown>;
  const bad = (what: string) => new Error(`${where}: calibration ${what}`);
  if (typeof o !== 'object' || o === null) throw bad('is not an object');
  if (o.task !== 'AC+AS' && o.task !== 'AC') throw bad(`task must be 'AC+AS' or 'AC', got ${JSON.stringify(o.task)}`);
  for (const k of ['zeroSeg', 'zeroDet'] as const) if (!isRange(o[k])) throw bad(`${k} must be a {min, max} range`);
  for (const k of ['fewSeg', 'fewDet'] as const)
    if (o[k] !== null && o[k] !== undefined && !isRange(o[k])) throw bad(`${k} must be a {min, max} range or null`);
  return {
    task: o.task,
    zeroSeg: o.zeroSeg as Range,
    fewSeg: (o.fewSeg as Range | undefined) ?? null,
    zeroDet: o.zeroDet as Range,
    fewDet: (o.fewDet as Range | undefined) ?? null,
    source: typeof o.source === 'string' ? o.source : 'unknown',
  };
}
