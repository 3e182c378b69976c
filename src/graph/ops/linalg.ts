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
