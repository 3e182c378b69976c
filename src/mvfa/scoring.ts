// MVFA scoring as graph nodes: zero-shot (text) maps and scores, few-shot (memory-bank) distances.
import { type Value, clip, div, matmul, mul, reduceMax, reduceMean, reduceSum, reshape, slice, softmax, sqrt, sub, transpose } from '../graph/index.ts';
import { bilinearAlignCornersMatrix } from '../io/image/resample.ts';

/** Patch tokens (class token dropped) of a level's mid [B, T, D] → [B, T−1, D]. */
export function patchTokens(mid: Value): Value {
  return slice(mid, 1, 1, mid.shape[1]);
}

/** x / ‖x‖ over the last axis (as `x / x.norm(dim=-1, keepdim=True)`). */
export function l2normalize(x: Value): Value {
  return div(x, sqrt(reduceSum(mul(x, x), [x.rank - 1], true)));
}

/** x / max(‖x‖, eps) over the last axis (as the official `cos_sim`). */
export function l2normalizeEps(x: Value, eps = 1e-8): Value {
  return div(x, clip(sqrt(reduceSum(mul(x, x), [x.rank - 1], true)), eps, 3.4e38));
}

/** 100 · P·Tᵀ for normalised patch tokens P [B, N, D] and text features T [2, D] → [B, N, 2]. */
export function zeroShotLogits(p: Value, text: Value): Value {
  return mul(matmul(p, transpose(text, [1, 0])), 100);
}

/** Bilinear (align_corners=True) upsampling of maps [..., g, g] to [..., s, s] as A·Z·Aᵀ. */
export function upsample(z: Value, size: number): Value {
  const g = z.shape[z.rank - 1];
  const a = z.graph.constant(`bilinear_${g}_${size}`, bilinearAlignCornersMatrix(g, size), [size, g]);
  return matmul(matmul(a, z), transpose(a, [1, 0]));
}

/** Seg probability maps [B, 2, s, s]: softmax over the two channels of the upsampled logits [B, g², 2]. */
export function segProbabilities(logits: Value, size: number): Value {
  const [b, n] = logits.shape;
  const grid = Math.round(Math.sqrt(n));
  const maps = reshape(transpose(logits, [0, 2, 1]), [b, 2, grid, grid]);
  return softmax(upsample(maps, size), 1);
}

/** The paper's order: softmax over the two channels first, then bilinear upsampling, [B, 2, s, s]. */
export function segProbabilitiesPaper(logits: Value, size: number): Value {
  const [b, n] = logits.shape;
  const grid = Math.round(Math.sqrt(n));
  return upsample(reshape(transpose(softmax(logits, -1), [0, 2, 1]), [b, 2, grid, grid]), size);
}

/** Abnormal channel [B, s, s] of seg probabilities. */
export function abnormalChannel(probs: Value): Value {
  const [b, , h, w] = probs.shape;
  return reshape(slice(probs, 1, 1, 2), [b, h, w]);
}

/** Det score per image [B]: mean over patches of the abnormal softmax probability. */
export function detScore(logits: Value): Value {
  const [b] = logits.shape;
  return reshape(reduceMean(slice(softmax(logits, -1), 2, 1, 2), [1, 2]), [b]);
}

/** The paper's variant of the det score: max over patches. */
export function detScoreMax(logits: Value): Value {
  const [b] = logits.shape;
  return reshape(reduceMax(slice(softmax(logits, -1), 2, 1, 2), [1, 2]), [b]);
}

/**
 * Few-shot distance map [B, g, g]: min over the bank of (1 − cos) for each patch query.
 * `query` [B, g², D] and the bank, given transposed as `bankT` [D, M], must both be normalised.
 */
export function memoryDistance(query: Value, bankT: Value): Value {
  const [b, n] = query.shape;
  const grid = Math.round(Math.sqrt(n));
  const sim = matmul(query, bankT); // [B, N, M]
  return reshape(sub(1, reduceMax(sim, [2])), [b, grid, grid]);
}
