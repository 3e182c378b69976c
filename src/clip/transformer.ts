// CLIP's pre-LN residual attention block (OpenAI / open_clip `ResidualAttentionBlock`) as graph nodes.
import {
  type FileRegion,
  type Graph,
  type Value,
  GraphError,
  add,
  fusedAttention,
  gelu,
  layerNorm,
  linear,
  matmul,
  mul,
  quickGelu,
  reshape,
  slice,
  softmax,
  transpose,
  shapeStr,
} from '../graph/index.ts';

export type Activation = 'gelu' | 'quickgelu';

/** The state-dict tensors of one block (PyTorch layout: Linear weights are [out, in]). */
export type BlockKey =
  | 'ln1Weight'
  | 'ln1Bias'
  | 'inProjWeight'
  | 'inProjBias'
  | 'outProjWeight'
  | 'outProjBias'
  | 'ln2Weight'
  | 'ln2Bias'
  | 'fcWeight'
  | 'fcBias'
  | 'projWeight'
  | 'projBias';

/**
 * A block's tensors in the graph. Linear weights are the checkpoint's [out, in] arrays (`Graph.weight`), used
 * as they are stored by `linear` (onnxruntime Gemm, transB): a session that owns them pre-packs them straight
 * from the checkpoint's bytes, and graphs that are fed them share the host's one copy.
 */
export interface BlockTensors {
  ln1Weight: Value;
  ln1Bias: Value;
  inProjWeight: Value; // [3D, D]: q | k | v rows
  inProjBias: Value; // [3D]
  outProjWeight: Value; // [D, D]
  outProjBias: Value;
  ln2Weight: Value;
  ln2Bias: Value;
  fcWeight: Value; // [4D, D]
  fcBias: Value;
  projWeight: Value; // [D, 4D]
  projBias: Value;
}

/** The state-dict suffixes of one block, OpenAI naming. */
export const BLOCK_KEYS: Readonly<Record<BlockKey, string>> = {
  ln1Weight: 'ln_1.weight',
  ln1Bias: 'ln_1.bias',
  inProjWeight: 'attn.in_proj_weight',
  inProjBias: 'attn.in_proj_bias',
  outProjWeight: 'attn.out_proj.weight',
  outProjBias: 'attn.out_proj.bias',
  ln2Weight: 'ln_2.weight',
  ln2Bias: 'ln_2.bias',
  fcWeight: 'mlp.c_fc.weight',
  fcBias: 'mlp.c_fc.bias',
  projWeight: 'mlp.c_proj.weight',
  projBias: 'mlp.c_proj.bias',
};

export interface WeightSource {
  /** Float32 data and shape of a tensor by its full state-dict name (`data` may be read on first use, see `file`). */
  get(name: string): { readonly data: Float32Array; readonly shape: readonly number[]; readonly file?: FileRegion };
}

/** Shapes of one block's state-dict tensors for width d (MLP 4d), PyTorch layout. */
export function blockTensorShapes(d: number): Record<BlockKey, number[]> {
  return {
    ln1Weight: [d],
    ln1Bias: [d],
    inProjWeight: [3 * d, d],
    inProjBias: [3 * d],
    outProjWeight: [d, d],
    outProjBias: [d],
    ln2Weight: [d],
    ln2Bias: [d],
    fcWeight: [4 * d, d],
    fcBias: [4 * d],
    projWeight: [d, 4 * d],
    projBias: [d],
  };
}

/** Adds a block's weights under `prefix` (e.g. `visual.transformer.resblocks.3.`) as shared frozen weights. */
export function blockConstants(g: Graph, src: WeightSource, prefix: string): BlockTensors {
  const out = {} as Record<BlockKey, Value>;
  for (const [key, suffix] of Object.entries(BLOCK_KEYS) as [BlockKey, string][]) {
    const t = src.get(prefix + suffix);
    out[key] = g.weight(prefix + suffix, t, t.shape);
  }
  return out;
}

const transposeCache = new WeakMap<Float32Array, Float32Array>();

/** [rows, cols] → [cols, rows] on the host, cached per source array. */
export function transposed2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const hit = transposeCache.get(a);
  if (hit) return hit;
  const out = transposeHost(a, rows, cols);
  transposeCache.set(a, out);
  return out;
}

/** [rows, cols] → [cols, rows] on the host into a new array, blocked for cache locality (not cached). */
export function transposeHost(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const B = 64;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[j * rows + i] = a[i * cols + j];
    }
  }
  return out;
}

/** x·Wᵀ + b for a weight in PyTorch's [out, in] layout (nn.Linear). */
export function linearBias(x: Value, w: Value, bias?: Value): Value {
  const y = linear(x, w);
  return bias ? add(y, bias) : y;
}

export interface BlockOptions {
  heads: number;
  activation: Activation;
  /** Additive attention mask [T, T] (e.g. causal: −inf above the diagonal). */
  mask?: Value;
  /** Causal attention (with `fused`; the unfused path takes `mask`). */
  causal?: boolean;
  /** Use onnxruntime's fused attention kernel (forward-only graphs). */
  fused?: boolean;
  epsilon?: number;
}

/** Multi-head self-attention as torch.nn.MultiheadAttention (packed in-projection, q scaled by 1/√head_dim). */
export function selfAttention(h: Value, w: BlockTensors, heads: number, mask?: Value): Value {
  const [b, t, d] = h.shape;
  if (d % heads !== 0) throw new GraphError(`attention: width ${d} is not divisible by ${heads} heads`);
  const hd = d / heads;
  // q, k and v each from its rows of the packed in-projection (sliced weights: folded into constants where the
  // session owns them; the backward pass then needs no padding of activation gradients).
  const proj = (k: number, perm: number[]): Value => {
    const wk = slice(w.inProjWeight, 0, k * d, (k + 1) * d);
    const bk = slice(w.inProjBias, 0, k * d, (k + 1) * d);
    return transpose(reshape(linearBias(h, wk, bk), [b, t, heads, hd]), perm);
  };
  const q = mul(proj(0, [0, 2, 1, 3]), 1 / Math.sqrt(hd)); // [B,H,T,hd]
  const kT = proj(1, [0, 2, 3, 1]); // [B,H,hd,T]
  const v = proj(2, [0, 2, 1, 3]); // [B,H,T,hd]
  let scores = matmul(q, kT); // [B,H,T,T]
  if (mask) scores = add(scores, mask);
  const ctx = matmul(softmax(scores, -1), v); // [B,H,T,hd]
  const merged = reshape(transpose(ctx, [0, 2, 1, 3]), [b, t, d]);
  return linearBias(merged, w.outProjWeight, w.outProjBias);
}

/**
 * The same attention with onnxruntime's fused kernel (forward only): one product with the packed in-projection as
 * stored ([3D, D], no transposed copy), q, k, v cut from its output.
 */
function fusedSelfAttention(h: Value, w: BlockTensors, heads: number, causal: boolean): Value {
  const d = h.shape[2];
  const qkv = linearBias(h, w.inProjWeight, w.inProjBias); // [B,T,3D]
  const part = (k: number): Value => slice(qkv, 2, k * d, (k + 1) * d);
  const ctx = fusedAttention(part(0), part(1), part(2), heads, causal);
  return linearBias(ctx, w.outProjWeight, w.outProjBias);
}

/** x ← x + Attn(LN1(x)); x ← x + MLP(LN2(x)), x: [B, T, D]. */
export function residualBlock(x: Value, w: BlockTensors, opt: BlockOptions): Value {
  if (x.rank !== 3) throw new GraphError(`residual block: expected [B,T,D] input, got ${x.name}${shapeStr(x.shape)}`);
  const eps = opt.epsilon ?? 1e-5;
  const h = layerNorm(x, w.ln1Weight, w.ln1Bias, eps);
  const attn = opt.fused ? fusedSelfAttention(h, w, opt.heads, opt.causal ?? false) : selfAttention(h, w, opt.heads, opt.mask);
  const x1 = add(x, attn);
  const m = linearBias(layerNorm(x1, w.ln2Weight, w.ln2Bias, eps), w.fcWeight, w.fcBias);
  const act = opt.activation === 'quickgelu' ? quickGelu(m) : gelu(m);
  return add(x1, linearBias(act, w.projWeight, w.projBias));
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, −inf above. */
export function causalMask(g: Graph, t: number): Value {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -Infinity;
  return g.constant(`causal_mask_${t}`, m, [t, t]);
}
