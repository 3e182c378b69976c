// MVFA inference graphs: zero-shot maps/scores and memory-bank (few-shot) distance maps.
import { CompiledGraph, Graph, type SessionConfig, type Value, add } from '../graph/index.ts';
import { transposed2d } from '../clip/transformer.ts';
import { type AdapterSet, adapterFeeds, adapterInputs } from './adapters.ts';
import { type Backbone, adaptedTail, checkLevels, frozenPrefix } from './network.ts';
import { abnormalChannel, detScore, l2normalize, l2normalizeEps, memoryDistance, patchTokens, segProbabilities, upsample, zeroShotLogits } from './scoring.ts';

export interface ZeroShotOutput {
  /** Σ over levels of the seg abnormal-probability maps, [B, S, S]. */
  zeroSeg: Float32Array;
  /** Σ over levels of the mean det abnormal probability, [B]. */
  zeroDet: Float32Array;
  /** Per level, the cos_sim-normalised tokens (class token first) of each head, [B, T, D]. */
  tokens: { seg: Float32Array[]; det: Float32Array[] };
}

function sum(xs: Value[]): Value {
  return xs.reduce((a, b) => add(a, b));
}

/** Compiles the adapted tower for a batch of images: outputs zero-shot maps, scores and normalised tokens. */
export async function compileInference(
  bb: Backbone,
  levels: readonly number[],
  bottleneck: number,
  imageSize: number,
  batch: number,
  cfg: SessionConfig = {},
): Promise<CompiledGraph> {
  checkLevels(levels, bb.vision.layers);
  const g = new Graph(`mvfa_infer_${batch}x${imageSize}`);
  const image = g.input('image', [batch, 3, imageSize, imageSize]);
  const text = g.input('text', [2, bottleneck]);
  const ad = adapterInputs(g, bb.vision.width, bottleneck, levels.length);
  const mids = adaptedTail(frozenPrefix(image, bb, levels[0]), bb, levels, ad, true);
  const outs: Record<string, Value> = {};
  const segMaps = mids.seg.map((m) => abnormalChannel(segProbabilities(zeroShotLogits(l2normalize(patchTokens(m)), text), imageSize)));
  const detScores = mids.det.map((m) => detScore(zeroShotLogits(l2normalize(patchTokens(m)), text)));
  outs.zero_seg = sum(segMaps);
  outs.zero_det = sum(detScores);
  levels.forEach((_, j) => {
    outs[`tok_seg_${j}`] = l2normalizeEps(mids.seg[j]);
    outs[`tok_det_${j}`] = l2normalizeEps(mids.det[j]);
  });
  return CompiledGraph.compile(g, outs, cfg);
}

export async function runInference(graph: CompiledGraph, images: Float32Array, adapters: AdapterSet, text: Float32Array): Promise<ZeroShotOutput> {
  const r = await graph.run({ image: images, text, ...adapterFeeds(adapters) });
  const n = adapters.levels.length;
  return {
    zeroSeg: r.zero_seg.data,
    zeroDet: r.zero_det.data,
    tokens: {
      seg: Array.from({ length: n }, (_, j) => r[`tok_seg_${j}`].data),
      det: Array.from({ length: n }, (_, j) => r[`tok_det_${j}`].data),
    },
  };
}

/**
 * Memory-bank graph for one head: per level, queries [B, T, D] (normalised, class token first; it is dropped)
 * against a bank fed transposed, [D, M] (normalised, class tokens included) → Σ over levels of the upsampled
 * min(1 − cos) maps [B, S, S].
 */
export async function compileMemorySearch(
  nLevels: number,
  batch: number,
  tokens: number,
  dim: number,
  bankSize: number,
  imageSize: number,
  cfg: SessionConfig = {},
): Promise<CompiledGraph> {
  const g = new Graph(`mvfa_memory_${batch}x${bankSize}`);
  const maps: Value[] = [];
  for (let j = 0; j < nLevels; j++) {
    const q = g.input(`query_${j}`, [batch, tokens, dim]);
    const bank = g.input(`bank_${j}`, [dim, bankSize]);
    maps.push(memoryDistance(patchTokens(q), bank));
  }
  const total = maps.reduce((a, b) => add(a, b));
  return CompiledGraph.compile(g, { few: upsample(total, imageSize) }, cfg);
}

/** A per-level memory bank: the normalised tokens of the support images, concatenated ([M, D] per level). */
export interface MemoryBank {
  head: 'seg' | 'det';
  dim: number;
  levels: Float32Array[];
  size: number;
}

/** The bank levels as the search graph takes them, [D, M] (transposed once on the host). */
export function bankFeeds(bank: MemoryBank): Float32Array[] {
  return bank.levels.map((l) => transposed2d(l, bank.size, bank.dim));
}
