// Neural-network operators: forward emission and gradient rule side by side.
import { type OpDef, type Value } from '../graph.ts';
import { GraphError, normAxis, sameShape, shapeStr } from '../types.ts';
import { add, div, mul, sqrt, sub, unbroadcast } from './elementwise.ts';
import { reduceMean, reduceSum } from './reduce.ts';

/** Softmax over one axis. VJP: y ⊙ (g − Σ g⊙y). */
export const SoftmaxOp: OpDef = {
  type: 'Softmax',
  infer([x], attrs) {
    if (x.dtype !== 'float32') throw new GraphError('Softmax: expected float32');
    normAxis(attrs.axis as number, x.rank, 'Softmax');
    return [{ dtype: 'float32', shape: x.shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Softmax', [i[0]], [o[0]], { axis: attrs.axis as number });
  },
  vjp(n, [g], need) {
    if (!need[0] || !g) return [null];
    const y = n.outputs[0];
    const ax = normAxis(n.attrs.axis as number, y.rank, 'Softmax');
    return [mul(y, sub(g, reduceSum(mul(g, y), [ax], true)))];
  },
};

export function softmax(x: Value, axis = -1): Value {
  return x.graph.apply1(SoftmaxOp, [x], { axis: normAxis(axis, x.rank, 'Softmax') });
}

/**
 * LayerNormalization over the last axis with scale γ and bias β (biased variance, as PyTorch).
 * VJP for x: rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)) with ĝ = g⊙γ; mean and rstd are recomputed from x.
 */
export const LayerNormOp: OpDef = {
  type: 'LayerNormalization',
  infer([x, gamma, beta]) {
    const d = x.shape[x.rank - 1];
    if (gamma.rank !== 1 || gamma.shape[0] !== d || beta.rank !== 1 || beta.shape[0] !== d) {
      throw new GraphError(
        `LayerNormalization: scale ${shapeStr(gamma.shape)} / bias ${shapeStr(beta.shape)} do not match last axis of ${x.name}${shapeStr(x.shape)}`,
      );
    }
    return [{ dtype: 'float32', shape: x.shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('LayerNormalization', [i[0], i[1], i[2]], [o[0]], { axis: -1, epsilon: attrs.epsilon as number });
  },
  vjp(n, [g], need) {
    if (!g) return [null, null, null];
    const [x, gamma] = n.inputs;
    const eps = n.attrs.epsilon as number;
    const ax = x.rank - 1;
    const mu = reduceMean(x, [ax], true);
    const xc = sub(x, mu);
    const rstd = div(1, sqrt(add(reduceMean(mul(xc, xc), [ax], true), eps)));
    const xhat = mul(xc, rstd);
    let gx: Value | null = null;
    if (need[0]) {
      const gh = mul(g, gamma);
      const t = sub(sub(gh, reduceMean(gh, [ax], true)), mul(xhat, reduceMean(mul(gh, xhat), [ax], true)));
      gx = mul(t, rstd);
    }
    return [gx, need[1] ? unbroadcast(mul(g, xhat), gamma.shape) : null, need[2] ? unbroadcast(g, gamma.shape) : null];
  },
};

export function layerNorm(x: Value, gamma: Value, beta: Value, epsilon = 1e-5): Value {
  return x.graph.apply1(LayerNormOp, [x, gamma, beta], { epsilon });
}

/**
 * Fused multi-head attention (onnxruntime's com.microsoft MultiHeadAttention) on projected q, k, v [B,T,D]: scaled
 * dot-product softmax attention per head (optionally causal), heads merged; no projections. Forward only (no
 * gradient rule): used for inference graphs.
 */
export const FusedAttentionOp: OpDef = {
  type: 'MultiHeadAttention',
  infer([q, k, v], attrs) {
    if (q.rank !== 3 || !sameShape(q.shape, k.shape) || !sameShape(q.shape, v.shape)) {
      throw new GraphError(`MultiHeadAttention: q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)} do not fit`);
    }
    if (q.shape[2] % (attrs.num_heads as number) !== 0)
      throw new GraphError(`MultiHeadAttention: width ${q.shape[2]} not divisible by ${attrs.num_heads} heads`);
    return [{ dtype: 'float32', shape: q.shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node(
      'MultiHeadAttention',
      [i[0], i[1], i[2]],
      [o[0]],
      { num_heads: attrs.num_heads as number, unidirectional: attrs.unidirectional ? 1 : 0 },
      'com.microsoft',
    );
  },
};

/** Self-attention of already projected q, k, v [B,T,D] (1/√head_dim scaling inside). */
export function fusedAttention(q: Value, k: Value, v: Value, heads: number, causal = false): Value {
  return q.graph.apply1(FusedAttentionOp, [q, k, v], { num_heads: heads, unidirectional: causal });
}
