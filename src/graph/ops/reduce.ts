// Reductions: forward emission and gradient rule side by side.
import { type OpDef, type Value } from '../graph.ts';
import { GraphError, normAxis, shapeStr } from '../types.ts';
import { div, equal, mul, where } from './elementwise.ts';
import { expand, reshape } from './shape.ts';

function reducedShape(x: Value, axes: readonly number[], keep: boolean, op: string): { axes: number[]; shape: number[] } {
  const ax = [...new Set(axes.map((a) => normAxis(a, x.rank, op)))].sort((a, b) => a - b);
  if (ax.length === 0) throw new GraphError(`${op}: no axes given for ${x.name}${shapeStr(x.shape)}`);
  const shape: number[] = [];
  x.shape.forEach((d, i) => {
    if (!ax.includes(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return { axes: ax, shape };
}

/** Gradient broadcast back over the reduced axes. */
function spread(g: Value, x: Value, axes: readonly number[]): Value {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return expand(reshape(g, kept), x.shape);
}

function reduceDef(type: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin'): OpDef {
  return {
    type,
    infer([x], attrs) {
      if (x.dtype !== 'float32') throw new GraphError(`${type}: expected float32, got ${x.dtype}`);
      return [{ dtype: 'float32', shape: reducedShape(x, attrs.axes as number[], attrs.keepdims as boolean, type).shape }];
    },
    emit(ctx, i, o, attrs) {
      const keepdims = attrs.keepdims ? 1 : 0;
      const axes = attrs.axes as number[];
      // opset 17: ReduceSum takes axes as an input, the others as an attribute.
      if (type === 'ReduceSum') ctx.node(type, [i[0], ctx.i64(axes)], [o[0]], { keepdims });
      else ctx.node(type, [i[0]], [o[0]], { axes, keepdims });
    },
    vjp(n, [g], need) {
      if (!need[0] || !g) return [null];
      const x = n.inputs[0];
      const axes = n.attrs.axes as number[];
      const gs = spread(g, x, axes);
      if (type === 'ReduceSum') return [gs];
      if (type === 'ReduceMean') {
        const count = axes.reduce((c, a) => c * x.shape[a], 1);
        return [div(gs, count)];
      }
      // max/min: the gradient is shared evenly between tied extrema (as torch.amax/amin).
      const hit = where(equal(x, spread(n.outputs[0], x, axes)), 1, 0);
      const ties = spread(reduceSum(hit, axes, true), x, axes);
      return [mul(gs, div(hit, ties))];
    },
  };
}

export const ReduceSumOp = reduceDef('ReduceSum');
export const ReduceMeanOp = reduceDef('ReduceMean');
export const ReduceMaxOp = reduceDef('ReduceMax');
export const ReduceMinOp = reduceDef('ReduceMin');

function reducer(op: OpDef) {
  return (x: Value, axes: readonly number[], keepdims = false): Value => {
    const { axes: ax } = reducedShape(x, axes, keepdims, op.type);
    return x.graph.apply1(op, [x], { axes: ax, keepdims });
  };
}
export const reduceSum = reducer(ReduceSumOp);
export const reduceMean = reducer(ReduceMeanOp);
export const reduceMax = reducer(ReduceMaxOp);
export const reduceMin = reducer(ReduceMinOp);
