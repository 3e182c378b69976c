// The adapted vision tower: frozen CLIP blocks with seg/det adapters after the chosen levels.
import { type Value, GraphError, add, mul } from '../graph/index.ts';
import { type VisionConfig } from '../clip/config.ts';
import { type ClipStateDict } from '../clip/state-dict.ts';
import { type Activation } from '../clip/transformer.ts';
import { visionBlock, visionStem } from '../clip/vision.ts';
import { type AdapterValues, adapter } from './adapters.ts';

export interface Backbone {
  weights: ClipStateDict;
  vision: VisionConfig;
  activation: Activation;
}

export function checkLevels(levels: readonly number[], layers: number): void {
  if (levels.length === 0) throw new GraphError('at least one adapter level is needed');
  levels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 1 || l > layers) throw new GraphError(`adapter level ${l} is outside blocks 1..${layers}`);
    if (i > 0 && l <= levels[i - 1]) throw new GraphError(`adapter levels must increase: ${levels.join(',')}`);
  });
}

/** Image [B,3,S,S] → residual stream after block `levels[0]` (the frozen prefix, cacheable for training). */
export function frozenPrefix(image: Value, bb: Backbone, firstLevel: number): Value {
  let x = visionStem(image, bb.weights, bb.vision);
  for (let i = 0; i < firstLevel; i++) x = visionBlock(x, bb.weights, bb.vision, i, bb.activation, true);
  return x;
}

export interface LevelMids {
  seg: Value[];
  det: Value[];
}

/**
 * From the stream after block levels[0], applies adapters at every level and the frozen blocks in between:
 * x ← 0.8·x + 0.1·seg(x) + 0.1·det(x) on all tokens. Returns each level's bottleneck activations [B, T, bottleneck].
 * Blocks after the last level are not built: they only feed the unused pooled output.
 * `fused` selects onnxruntime's fused attention (no gradients: inference only).
 */
export function adaptedTail(x0: Value, bb: Backbone, levels: readonly number[], ad: AdapterValues, fused = false): LevelMids {
  let x = x0;
  const mids: LevelMids = { seg: [], det: [] };
  levels.forEach((level, j) => {
    if (j > 0) for (let i = levels[j - 1]; i < level; i++) x = visionBlock(x, bb.weights, bb.vision, i, bb.activation, fused);
    const s = adapter(x, ad.seg[j]);
    const d = adapter(x, ad.det[j]);
    mids.seg.push(s.mid);
    mids.det.push(d.mid);
    if (j < levels.length - 1) x = add(add(mul(x, 0.8), mul(s.out, 0.1)), mul(d.out, 0.1));
  });
  return mids;
}
