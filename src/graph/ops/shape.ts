// Shape operators: forward emission and gradient rule side by side.
import { type OpDef, type Value } from '../graph.ts';
import { GraphError, normAxis, numel, shapeStr, broadcastShapes, sameShape } from '../types.ts';
import { add, unbroadcast } from './elementwise.ts';

export const ReshapeOp: OpDef = {
  type: 'Reshape',
  infer([x], attrs) {
    const target = [...(attrs.shape as readonly number[])];
    const neg = target.indexOf(-1);
    if (neg >= 0) {
      const rest = numel(target.filter((_, i) => i !== neg));
      target[neg] = rest === 0 ? 0 : numel(x.shape) / rest;
    }
    if (!target.every((d) => Number.isInteger(d) && d >= 0) || numel(target) !== numel(x.shape)) {
      throw new GraphError(`Reshape: cannot reshape ${x.name}${shapeStr(x.shape)} to ${shapeStr(attrs.shape as number[])}`);
    }
    return [{ dtype: x.dtype, shape: target }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Reshape', [i[0], ctx.i64(attrs.shape as number[])], [o[0]]);
  },
  vjp(n, [g], need) {
    return [need[0] && g ? reshape(g, n.inputs[0].shape) : null];
  },
};

export function reshape(x: Value, shape: readonly number[]): Value {
  if (sameShape(x.shape, shape)) return x;
  return x.graph.apply1(ReshapeOp, [x], { shape });
}

export const TransposeOp: OpDef = {
  type: 'Transpose',
  infer([x], attrs) {
    const perm = attrs.perm as readonly number[];
    const sorted = [...perm].sort((a, b) => a - b);
    if (perm.length !== x.rank || !sorted.every((p, i) => p === i)) {
      throw new GraphError(`Transpose: perm [${perm}] invalid for ${x.name}${shapeStr(x.shape)}`);
    }
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Transpose', [i[0]], [o[0]], { perm: attrs.perm });
  },
  vjp(n, [g], need) {
    if (!need[0] || !g) return [null];
    const perm = n.attrs.perm as readonly number[];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [transpose(g, inv)];
  },
};

export function transpose(x: Value, perm: readonly number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  return x.graph.apply1(TransposeOp, [x], { perm });
}

/** Swaps the last two axes. */
export function transposeLast2(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return transpose(x, perm);
}

/** Slice with step 1 along the given axes: [start, end). */
export const SliceOp: OpDef = {
  type: 'Slice',
  infer([x], attrs) {
    const axes = attrs.axes as readonly number[];
    const starts = attrs.starts as readonly number[];
    const ends = attrs.ends as readonly number[];
    const shape = [...x.shape];
    axes.forEach((a, k) => {
      const ax = normAxis(a, x.rank, 'Slice');
      const s = starts[k];
      const e = Math.min(ends[k], x.shape[ax]);
      if (s < 0 || s > e) throw new GraphError(`Slice: range ${s}:${ends[k]} invalid on axis ${a} of ${x.name}${shapeStr(x.shape)}`);
      shape[ax] = e - s;
    });
    return [{ dtype: x.dtype, shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Slice', [i[0], ctx.i64(attrs.starts as number[]), ctx.i64(attrs.ends as number[]), ctx.i64(attrs.axes as number[])], [o[0]]);
  },
  vjp(n, [g], need) {
    if (!need[0] || !g) return [null];
    const x = n.inputs[0];
    const pads = new Array<number>(2 * x.rank).fill(0);
    const axes = n.attrs.axes as readonly number[];
    const starts = n.attrs.starts as readonly number[];
    axes.forEach((a, k) => {
      const ax = normAxis(a, x.rank, 'Slice');
      pads[ax] = starts[k];
      pads[x.rank + ax] = x.shape[ax] - starts[k] - g.shape[ax];
    });
    return [pad(g, pads)];
  },
};

export function slice(x: Value, axis: number, start: number, end: number): Value {
  const ax = normAxis(axis, x.rank, 'Slice');
  if (start === 0 && end >= x.shape[ax]) return x;
  return x.graph.apply1(SliceOp, [x], { axes: [ax], starts: [start], ends: [end] });
}

/** Zero padding: pads = [begin_0..begin_r-1, end_0..end_r-1]. */
export const PadOp: OpDef = {
  type: 'Pad',
  infer([x], attrs) {
    const pads = attrs.pads as readonly number[];
    if (pads.length !== 2 * x.rank || pads.some((p) => p < 0)) throw new GraphError(`Pad: pads [${pads}] invalid for ${shapeStr(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => d + pads[i] + pads[x.rank + i]) }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Pad', [i[0], ctx.i64(attrs.pads as number[])], [o[0]], { mode: 'constant' });
  },
  vjp(n, [g], need) {
    if (!need[0] || !g) return [null];
    const x = n.inputs[0];
    const pads = n.attrs.pads as readonly number[];
    let r = g;
    for (let ax = 0; ax < x.rank; ax++) r = slice(r, ax, pads[ax], pads[ax] + x.shape[ax]);
    return [r];
  },
};

export function pad(x: Value, pads: readonly number[]): Value {
  if (pads.every((p) => p === 0)) return x;
  return x.graph.apply1(PadOp, [x], { pads });
}

export const ConcatOp: OpDef = {
  type: 'Concat',
  infer(inputs, attrs) {
    const ax = normAxis(attrs.axis as number, inputs[0].rank, 'Concat');
    const shape = [...inputs[0].shape];
    shape[ax] = 0;
    for (const v of inputs) {
      if (v.rank !== shape.length || v.shape.some((d, i) => i !== ax && d !== shape[i]) || v.dtype !== inputs[0].dtype) {
        throw new GraphError(`Concat: ${inputs.map((u) => `${u.name}${shapeStr(u.shape)}`).join(', ')} do not match on axis ${ax}`);
      }
      shape[ax] += v.shape[ax];
    }
    return [{ dtype: inputs[0].dtype, shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Concat', [...i], [o[0]], { axis: attrs.axis as number });
  },
  vjp(n, [g], need) {
    if (!g) return n.inputs.map(() => null);
    const ax = normAxis(n.attrs.axis as number, g.rank, 'Concat');
    let off = 0;
    return n.inputs.map((v, k) => {
      const s = off;
      off += v.shape[ax];
      return need[k] ? slice(g, ax, s, s + v.shape[ax]) : null;
    });
  },
};

export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 1) return xs[0];
  return xs[0].graph.apply1(ConcatOp, xs, { axis });
}

/** Gather with constant integer indices along one axis (no gradient). */
export const GatherOp: OpDef = {
  type: 'Gather',
  infer([x], attrs) {
    const ax = normAxis(attrs.axis as number, x.rank, 'Gather');
    const idx = attrs.indices as readonly number[];
    if (idx.some((i) => i < 0 || i >= x.shape[ax] || !Number.isInteger(i))) {
      throw new GraphError(`Gather: index out of range for axis ${ax} of ${x.name}${shapeStr(x.shape)}`);
    }
    const shape = [...x.shape];
    shape[ax] = idx.length;
    return [{ dtype: x.dtype, shape }];
  },
  emit(ctx, i, o, attrs) {
    const idx = attrs.indices as readonly number[];
    ctx.node('Gather', [i[0], ctx.i64(idx, [idx.length])], [o[0]], { axis: attrs.axis as number });
  },
  vjp(n, [g], need) {
    if (!need[0] || !g) return [null];
    // Each gathered slice k goes back to position indices[k]; repeated indices add up.
    const x = n.inputs[0];
    const ax = normAxis(n.attrs.axis as number, x.rank, 'Gather');
    let acc: Value | null = null;
    (n.attrs.indices as readonly number[]).forEach((src, k) => {
      const pads = new Array<number>(2 * x.rank).fill(0);
      pads[ax] = src;
      pads[x.rank + ax] = x.shape[ax] - src - 1;
      const part = pad(slice(g, ax, k, k + 1), pads);
      acc = acc ? add(acc, part) : part;
    });
    return [acc];
  },
};

export function gather(x: Value, axis: number, indices: readonly number[]): Value {
  return x.graph.apply1(GatherOp, [x], { axis, indices });
}

export const ExpandOp: OpDef = {
  type: 'Expand',
  infer([x], attrs) {
    const shape = broadcastShapes('Expand', x.shape, attrs.shape as number[]);
    return [{ dtype: x.dtype, shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Expand', [i[0], ctx.i64(attrs.shape as number[])], [o[0]]);
  },
  vjp(n, [g], need) {
    return [need[0] && g ? unbroadcast(g, n.inputs[0].shape) : null];
  },
};

export function expand(x: Value, shape: readonly number[]): Value {
  if (sameShape(x.shape, shape)) return x;
  return x.graph.apply1(ExpandOp, [x], { shape });
}
