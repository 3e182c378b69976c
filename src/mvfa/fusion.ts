// Fusion of the zero-shot and few-shot branches.
// Benchmark rule (official): each branch min–max normalised over the whole evaluated set, averaged 0.5/0.5.
// Single-image rule: the same, with min/max stored from a calibration set (the support images), so one image
// can be scored alone. Values outside the calibration range are not clipped, so the ranking is preserved.

export type Task = 'AC+AS' | 'AC';

export interface Range {
  min: number;
  max: number;
}

export interface Calibration {
  task: Task;
  zeroSeg: Range;
  fewSeg: Range | null;
  zeroDet: Range;
  fewDet: Range | null;
  /** What the ranges were computed from. */
  source: string;
}

export interface BranchScores {
  zeroSeg: Float32Array; // [S,S]
  zeroDet: number;
  fewSeg?: Float32Array; // [S,S]
  fewDet?: Float32Array; // [S,S]
}

export function rangeOf(arrays: Iterable<ArrayLike<number>>): Range {
  let min = Infinity;
  let max = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (!Number.isFinite(min)) throw new Error('cannot compute a range of an empty set');
  return { min, max };
}

/** (v − min)/(max − min); a degenerate range maps everything to 0. */
export function normalize(v: number, r: Range): number {
  const d = r.max - r.min;
  return d > 0 ? (v - r.min) / d : 0;
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

export function calibrate(samples: BranchScores[], task: Task, source: string): Calibration {
  const seg = samples.every((s) => s.fewSeg);
  const det = samples.every((s) => s.fewDet);
  return {
    task,
    zeroSeg: rangeOf(samples.map((s) => s.zeroSeg)),
    fewSeg: seg ? rangeOf(samples.map((s) => s.fewSeg!)) : null,
    zeroDet: rangeOf([samples.map((s) => s.zeroDet)]),
    fewDet: det ? rangeOf([samples.map((s) => mean(s.fewDet!))]) : null,
    source,
  };
}

export interface FusedPrediction {
  /** Image-level anomaly score. */
  score: number;
  /** Pixel-level anomaly map [S,S] (fused where a memory bank exists). */
  map: Float32Array;
}

/** Fuses one image's branches with stored ranges (AC+AS: max of the fused map; AC: fused det scores). */
export function fuseCalibrated(b: BranchScores, cal: Calibration): FusedPrediction {
  const map = new Float32Array(b.zeroSeg.length);
  const few = b.fewSeg && cal.fewSeg ? b.fewSeg : null;
  for (let i = 0; i < map.length; i++) {
    const z = normalize(b.zeroSeg[i], cal.zeroSeg);
    map[i] = few ? 0.5 * z + 0.5 * normalize(few[i], cal.fewSeg!) : z;
  }
  let score: number;
  if (cal.task === 'AC+AS') {
    score = -Infinity;
    for (let i = 0; i < map.length; i++) if (map[i] > score) score = map[i];
  } else {
    const z = normalize(b.zeroDet, cal.zeroDet);
    score = b.fewDet && cal.fewDet ? 0.5 * z + 0.5 * normalize(mean(b.fewDet), cal.fewDet) : z;
  }
  return { score, map };
}
