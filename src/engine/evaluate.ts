// Evaluation of MVFA on a test split with the official fusion: each branch min–max normalised over the whole
// set, averaged 0.5/0.5; image score = max of the fused map (AC+AS) or the fused det scores (AC); zero-shot mode
// uses the det head for images and the seg map for pixels. Exact AUROC (ties one half), max-F1, AUPRO.
import { AurocAccumulator, aupro, aurocExact, maxF1 } from '../eval/index.ts';
import { loadImageTensor, loadMask } from '../io/image.ts';
import { type Task, mean } from '../mvfa/calibration.ts';
import { type Mvfa } from '../mvfa/mvfa.ts';

export interface EvalItem {
  path: string;
  label: 0 | 1;
  mask: string | null;
}

export interface EvalOptions {
  task: Task;
  /** 'few': zero-shot + memory-bank branches fused; 'zero': text branch only. */
  mode: 'few' | 'zero';
  aupro?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface ImageResult {
  path: string;
  label: 0 | 1;
  score: number;
}

export interface EvalResult {
  images: number;
  imageAuroc: number;
  imageMaxF1: number;
  pixelAuroc: number | null;
  pixelMaxF1: number | null;
  aupro: number | null;
  perImage: ImageResult[];
  /** Fused (or zero-shot) maps of a few images for overlays, with their masks. */
  samples: { path: string; label: 0 | 1; score: number; map: Float32Array; mask: Uint8Array | null }[];
  timings: Record<string, number>;
}

function rangeOfMaps(maps: Float32Array[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const m of maps)
    for (let i = 0; i < m.length; i++) {
      if (m[i] < min) min = m[i];
      if (m[i] > max) max = m[i];
    }
  return { min, max };
}

function normScalars(xs: number[]): number[] {
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return xs.map((x) => (max > min ? (x - min) / (max - min) : 0));
}

/** Picks up to n indices spread over the score ranking of both classes, for the overlay gallery. */
function sampleIndices(scores: number[], labels: number[], n: number): number[] {
  const order = scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a]);
  const pick = new Set<number>();
  for (const cls of [1, 0]) {
    const idx = order.filter((i) => labels[i] === cls);
    const k = Math.min(Math.ceil(n / 2), idx.length);
    for (let j = 0; j < k; j++) pick.add(idx[Math.floor((j * (idx.length - 1)) / Math.max(1, k - 1))]);
  }
  return [...pick];
}

export async function evaluateSplit(model: Mvfa, items: EvalItem[], o: EvalOptions): Promise<EvalResult> {
  if (items.length === 0) throw new Error('empty test split');
  const t0 = Date.now();
  const s = model.imageSize;
  const pixels = o.task === 'AC+AS';
  const withFew = o.mode === 'few';
  if (withFew && !model.hasSupport) throw new Error('few-shot evaluation needs a memory bank (support images)');
  const zeroSeg: Float32Array[] = [];
  const fewSeg: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  const zeroDet: number[] = [];
  const fewDet: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const raw = await model.analyze((await loadImageTensor(it.path, { size: s })).tensor, pixels ? ['seg'] : ['det']);
    zeroDet.push(raw.zeroDet);
    if (withFew && !pixels) fewDet.push(mean(raw.fewDet!));
    if (pixels) {
      zeroSeg.push(raw.zeroSeg);
      if (withFew) fewSeg.push(raw.fewSeg!);
      masks.push(it.mask ? await loadMask(it.mask, s) : new Uint8Array(s * s));
    }
    o.onProgress?.(i + 1, items.length);
  }
  const tInfer = Date.now();
  const labels = items.map((it) => it.label);
  let scores: number[];
  let pixelAuroc: number | null = null;
  let pixelMaxF1: number | null = null;
  let auproValue: number | null = null;
  const fused: Float32Array[] = [];
  if (pixels) {
    const rz = rangeOfMaps(zeroSeg);
    const rf = withFew ? rangeOfMaps(fewSeg) : null;
    const acc = new AurocAccumulator();
    scores = [];
    for (let i = 0; i < items.length; i++) {
      const z = zeroSeg[i];
      const m = new Float32Array(z.length);
      const dz = rz.max - rz.min || 1;
      if (rf) {
        const f = fewSeg[i];
        const df = rf.max - rf.min || 1;
        for (let p = 0; p < m.length; p++) m[p] = 0.5 * ((z[p] - rz.min) / dz) + 0.5 * ((f[p] - rf.min) / df);
      } else for (let p = 0; p < m.length; p++) m[p] = (z[p] - rz.min) / dz;
      acc.add(m, masks[i]);
      fused.push(m);
      let mx = -Infinity;
      for (let p = 0; p < m.length; p++) if (m[p] > mx) mx = m[p];
      scores.push(mx);
    }
    pixelAuroc = acc.result();
    pixelMaxF1 = acc.maxF1();
    if (o.aupro) auproValue = aupro(fused, masks, s, s);
    // Zero-shot mode scores images with the det head, for every dataset (official test_zero).
    if (!withFew) scores = zeroDet;
  } else {
    if (withFew) {
      const nz = normScalars(zeroDet);
      const nf = normScalars(fewDet);
      scores = nz.map((z, i) => 0.5 * z + 0.5 * nf[i]);
    } else scores = zeroDet;
  }
  const lab = Uint8Array.from(labels);
  const sc = Float64Array.from(scores);
  const pick = sampleIndices(scores, labels, 12);
  return {
    images: items.length,
    imageAuroc: aurocExact(sc, lab),
    imageMaxF1: maxF1(sc, lab),
    pixelAuroc,
    pixelMaxF1,
    aupro: auproValue,
    perImage: items.map((it, i) => ({ path: it.path, label: it.label, score: scores[i] })),
    samples: pick.map((i) => ({
      path: items[i].path,
      label: items[i].label,
      score: scores[i],
      map: pixels ? fused[i] : new Float32Array(0),
      mask: pixels ? masks[i] : null,
    })),
    timings: { inference_s: (tInfer - t0) / 1000, metrics_s: (Date.now() - tInfer) / 1000 },
  };
}
