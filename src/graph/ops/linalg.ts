// Matrix multiplication: forward emission and gradient rule side by side.
import { type OpDef, type Value } from '../graph.ts';
import { GraphError, broadcastShapes, shapeStr } from '../types.ts';
import { unbroadcast } from './elementwise.ts';
import { reshape, transposeLast2 } from './shape.ts';

/** Batched matrix product with NumPy broadcasting over leading axes (both operands rank ≥ 2). */
export const MatMulOp: OpDef = {
  type: 'MatMul',
  infer([a, b]) {
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new GraphError('MatMul: expected float32 operands');
    if (a.rank < 2 || b.rank < 2) throw new GraphError(`MatMul: operands must have rank ≥ 2, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k !== k2) {
      throw new GraphError(`MatMul: inner dimensions differ: ${a.name}${shapeStr(a.shape)} @ ${b.name}${shapeStr(b.shape)}`);
    }
    const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ dtype: 'float32', shape: [...batch, m, n] }];
  },
  emit(ctx, i, o) {
    ctx.node('MatMul', [i[0], i[1]], [o[0]]);
  },
  vjp(node, [g], need) {
    if (!g) return [null, null];
    const [a, b] = node.inputs;
    let ga: Value | null = null;
    let gb: Value | null = null;
    if (need[0]) ga = unbroadcast(matmul(g, transposeLast2(b)), a.shape);
    if (need[1]) {
      if (b.rank === 2 && a.rank > 2) {
        // Fold the batch axes into rows: Aᵀ·G as one 2-D product.
        const k = a.shape[a.rank - 1];
        const n = g.shape[g.rank - 1];
        gb = matmul(transposeLast2(reshape(a, [-1, k])), reshape(g, [-1, n]));
      } else {
        gb = unbroadcast(matmul(transposeLast2(a), g), b.shape);
      }
    }
    return [ga, gb];
  },
};

export function matmul(a: Value, b: Value): Value {
  return a.graph.apply1(MatMulOp, [a, b]);
}

/**
 * x·Wᵀ for a weight W [N, K] in PyTorch's [out, in] layout, x [..., K] → [..., N]: one onnxruntime Gemm
 * (transB) over the rows of x. Gemm reads W as it is stored, so a weight the session owns is pre-packed from
 * the checkpoint's array itself (no transposed copy); where W is fed at run time it is packed per call.
 */
export const LinearOp: OpDef = {
  type: 'Linear',
  infer([x, w]) {
    if (x.dtype !== 'float32' || w.dtype !== 'float32') throw new GraphError('Linear: expected float32 operands');
    if (w.rank !== 2 || x.rank < 1 || x.shape[x.rank - 1] !== w.shape[1]) {
      throw new GraphError(`Linear: ${x.name}${shapeStr(x.shape)} does not fit weight ${w.name}${shapeStr(w.shape)} ([out, in])`);
    }
    return [{ dtype: 'float32', shape: [...x.shape.slice(0, -1), w.shape[0]] }];
  },
  emit(ctx, i, o, attrs) {
    const shape = attrs.shape as number[];
    const [n, k] = attrs.weight as number[];
    if (shape.length === 2) {
      ctx.node('Gemm', [i[0], i[1]], [o[0]], { transB: 1 });
      return;
    }
    const rows = ctx.tmp('linear_rows');
    const prod = ctx.tmp('linear_prod');
    ctx.node('Reshape', [i[0], ctx.i64([-1, k])], [rows]);
    ctx.node('Gemm', [rows, i[1]], [prod], { transB: 1 });
    ctx.node('Reshape', [prod, ctx.i64([...shape.slice(0, -1), n])], [o[0]]);
  },
  vjp(node, [g], need) {
    if (!g) return [null, null];
    const [x, w] = node.inputs;
    const [n, k] = w.shape;
    // y = x·Wᵀ: dx = g·W, dW = gᵀ·x (batch axes folded into rows).
    const gx = need[0] ? matmul(g, w) : null;
    const gw = need[1] ? matmul(transposeLast2(reshape(g, [-1, n])), reshape(x, [-1, k])) : null;
    return [gx, gw];
  },
};

/** x·Wᵀ for W [out, in] (PyTorch's nn.Linear layout, without the bias). */
export function linear(x: Value, w: Value): Value {
  return x.graph.apply1(LinearOp, [x, w], { shape: [...x.shape], weight: [...w.shape] });
}
