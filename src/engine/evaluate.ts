// Evaluation of MVFA on a test split with the official fusion rule over the whole set (mvfa/fusion.ts: `fuseRun`),
// the same rule `mvfa predict` applies to a run without stored calibration. Exact AUROC (ties one half), max-F1, AUPRO.
import { AurocAccumulator, aupro, aurocExact, maxF1 } from '../eval/index.ts';
import { loadImageTensor, loadMask } from '../io/image/image.ts';
import { type BranchScores, type Task, fuseRun, mean } from '../mvfa/fusion.ts';
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
  const raws: BranchScores[] = [];
  const masks: Uint8Array[] = [];
  const empty = new Float32Array(0);
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const raw = await model.analyze((await loadImageTensor(it.path, { size: s })).tensor, pixels ? ['seg'] : ['det']);
    if (pixels) {
      raws.push({ zeroSeg: raw.zeroSeg, zeroDet: raw.zeroDet, fewSeg: withFew ? raw.fewSeg : undefined });
      masks.push(it.mask ? await loadMask(it.mask, s) : new Uint8Array(s * s));
    } else {
      // Image-level task: only the scores are kept (the det map enters through its mean).
      raws.push({ zeroSeg: empty, zeroDet: raw.zeroDet, fewDet: withFew ? Float64Array.of(mean(raw.fewDet!)) : undefined });
    }
    o.onProgress?.(i + 1, items.length);
  }
  const tInfer = Date.now();
  const labels = items.map((it) => it.label);
  // Without a memory bank the rule scores images with the det head for every dataset (official test_zero).
  const { fused } = fuseRun(raws, o.task);
  const scores = fused.map((f) => f.score);
  let pixelAuroc: number | null = null;
  let pixelMaxF1: number | null = null;
  let auproValue: number | null = null;
  if (pixels) {
    const acc = new AurocAccumulator();
    fused.forEach((f, i) => acc.add(f.map, masks[i]));
    pixelAuroc = acc.result();
    pixelMaxF1 = acc.maxF1();
    if (o.aupro)
      auproValue = aupro(
        fused.map((f) => f.map),
        masks,
        s,
        s,
      );
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
      map: pixels ? fused[i].map : empty,
      mask: pixels ? masks[i] : null,
    })),
    timings: { inference_s: (tInfer - t0) / 1000, metrics_s: (Date.now() - tInfer) / 1000 },
  };
}
