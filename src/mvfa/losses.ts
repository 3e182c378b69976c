// MVFA training losses as graph nodes (official definitions, spec §3.3).
import { type Value, add, clip, div, exp, log, mul, pow, reduceMean, reduceSum, reshape, slice, sub } from '../graph/index.ts';

/**
 * Focal loss on a 2-channel probability map [B, 2, H, W] against a binary mask [B, H, W] (γ = 2, α = 1):
 * the one-hot target is clamped to [s, 1−s] with s = 1e-5, pt = Σ_c target_c·p_c + s, loss = mean(−(1−pt)²·ln pt).
 */
export function focalLoss(probs: Value, mask: Value, smooth = 1e-5): Value {
  const [b, , h, w] = probs.shape;
  const p0 = reshape(slice(probs, 1, 0, 1), [b, h, w]);
  const p1 = reshape(slice(probs, 1, 1, 2), [b, h, w]);
  const k1 = add(mul(mask, 1 - 2 * smooth), smooth);
  const k0 = sub(1, k1);
  const pt = add(add(mul(k0, p0), mul(k1, p1)), smooth);
  const term = mul(pow(sub(1, pt), 2), log(pt));
  return mul(reduceMean(term, [0, 1, 2]), -1);
}

/** Binary dice loss: 1 − mean_N[(2Σp·t + 1)/(Σp + Σt + 1)] on p [B, H, W], t [B, H, W]. */
export function diceLoss(p: Value, mask: Value, smooth = 1): Value {
  const inter = reduceSum(mul(p, mask), [1, 2]);
  const dice = div(add(mul(inter, 2), smooth), add(add(reduceSum(p, [1, 2]), reduceSum(mask, [1, 2])), smooth));
  return sub(1, reduceMean(dice, [0]));
}

/** BCEWithLogits(s, y) averaged over the batch: log(1 + eˢ) − s·y (s is the det score, bounded in [0, 1] here). */
export function bceWithLogits(s: Value, y: Value): Value {
  return reduceMean(sub(log(add(exp(s), 1)), mul(s, y)), [0]);
}

/** Plain binary cross-entropy on a probability p ∈ (0, 1) (the paper's variant), clamped to [1e-7, 1 − 1e-7]. */
export function bceProbability(p: Value, y: Value): Value {
  const q = clip(p, 1e-7, 1 - 1e-7);
  return mul(reduceMean(add(mul(y, log(q)), mul(sub(1, y), log(sub(1, q)))), [0]), -1);
}
