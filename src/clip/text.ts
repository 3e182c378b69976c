// CLIP text tower as graph nodes. Token embeddings are looked up on the host; the graph runs positional embedding,
// causal blocks, ln_final, end-token pooling (a one-hot product) and the projection.
import { type Graph, type Value, add, layerNorm, matmul, reshape, slice } from '../graph/index.ts';
import { type TextConfig } from './config.ts';
import { type ClipStateDict } from './state-dict.ts';
import { type Activation, blockConstants, residualBlock } from './transformer.ts';
import { sdSource } from './vision.ts';

/**
 * Graph inputs: `tokens_emb` [N, L, W] (token embeddings of the first L positions) and `eot_onehot` [N, 1, L].
 * Because attention is causal, the end-token output depends only on positions ≤ its own, so L may be the longest
 * used length rather than the full context.
 */
export function textTower(
  g: Graph,
  sd: ClipStateDict,
  cfg: TextConfig,
  n: number,
  len: number,
  activation: Activation,
): { emb: Value; eot: Value; out: Value } {
  const src = sdSource(sd);
  const c = (name: string): Value => {
    const t = src.get(name);
    return g.weight(name, t, t.shape);
  };
  const emb = g.input('tokens_emb', [n, len, cfg.width]);
  const eot = g.input('eot_onehot', [n, 1, len]);
  let x = add(emb, slice(c('positional_embedding'), 0, 0, len));
  for (let i = 0; i < cfg.layers; i++) {
    x = residualBlock(x, blockConstants(g, src, `transformer.resblocks.${i}.`), { heads: cfg.heads, activation, causal: true, fused: true });
  }
  const pooled = reshape(matmul(eot, x), [n, cfg.width]);
  const h = layerNorm(pooled, c('ln_final.weight'), c('ln_final.bias'));
  return { emb, eot, out: matmul(h, c('text_projection')) };
}

/** Host-side token-embedding lookup and end-token one-hot for tokenised rows [N, ctx] (EOT = the largest id, as CLIP). */
export function textFeeds(
  sd: ClipStateDict,
  cfg: TextConfig,
  ids: Int32Array,
  n: number,
  ctx: number,
  len: number,
): { tokens_emb: Float32Array; eot_onehot: Float32Array } {
  const table = sd.get('token_embedding.weight')!.data;
  const w = cfg.width;
  const tokens = new Float32Array(n * len * w);
  const onehot = new Float32Array(n * len);
  for (let r = 0; r < n; r++) {
    let arg = 0;
    for (let j = 0; j < ctx; j++) if (ids[r * ctx + j] > ids[r * ctx + arg]) arg = j;
    if (arg >= len) throw new RangeError(`text row ${r}: end token at ${arg} beyond the computed length ${len}`);
    onehot[r * len + arg] = 1;
    for (let j = 0; j < len; j++) {
      const id = ids[r * ctx + j];
      if (id < 0 || id >= cfg.vocabSize) throw new RangeError(`text row ${r}: token id ${id} outside the vocabulary`);
      tokens.set(table.subarray(id * w, (id + 1) * w), (r * len + j) * w);
    }
  }
  return { tokens_emb: tokens, eot_onehot: onehot };
}
