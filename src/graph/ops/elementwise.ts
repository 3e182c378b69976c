// Element-wise operators: forward emission and gradient rule side by side.
import { type Attrs, type GraphNode, type OpDef, type OutputSpec, Value } from '../graph.ts';
import { GraphError, broadcastShapes, sameShape, shapeStr } from '../types.ts';
import { reshape } from './shape.ts';
import { reduceSum } from './reduce.ts';

export type Operand = Value | number;

function lift(ref: Value, x: Operand): Value {
  return typeof x === 'number' ? ref.graph.scalar(x) : x;
}

/** Sums a broadcast gradient back to the operand's shape. */
export function unbroadcast(g: Value, shape: readonly number[]): Value {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? reduceSum(g, axes, true) : g;
  return sameShape(s.shape, shape) ? s : reshape(s, shape);
}

function floatCheck(op: string, inputs: readonly Value[]): void {
  for (const v of inputs) {
    if (v.dtype !== 'float32') throw new GraphError(`${op}: expected float32 input, got ${v.dtype} for ${v.name}${shapeStr(v.shape)}`);
  }
}

function binaryDef(type: string, vjp: OpDef['vjp']): OpDef {
  return {
    type,
    infer(inputs): OutputSpec[] {
      floatCheck(type, inputs);
      return [{ dtype: 'float32', shape: broadcastShapes(type, inputs[0].shape, inputs[1].shape) }];
    },
    emit(ctx, i, o) {
      ctx.node(type, [i[0], i[1]], [o[0]]);
    },
    vjp,
  };
}

export const AddOp = binaryDef('Add', (n, [g], need) => [
  need[0] && g ? unbroadcast(g, n.inputs[0].shape) : null,
  need[1] && g ? unbroadcast(g, n.inputs[1].shape) : null,
]);
export const SubOp = binaryDef('Sub', (n, [g], need) => [
  need[0] && g ? unbroadcast(g, n.inputs[0].shape) : null,
  need[1] && g ? unbroadcast(neg(g), n.inputs[1].shape) : null,
]);
export const MulOp = binaryDef('Mul', (n, [g], need) => [
  need[0] && g ? unbroadcast(mul(g, n.inputs[1]), n.inputs[0].shape) : null,
  need[1] && g ? unbroadcast(mul(g, n.inputs[0]), n.inputs[1].shape) : null,
]);
export const DivOp = binaryDef('Div', (n, [g], need) => [
  need[0] && g ? unbroadcast(div(g, n.inputs[1]), n.inputs[0].shape) : null,
  // d(a/b)/db = -y/b
  need[1] && g ? unbroadcast(neg(div(mul(g, n.outputs[0]), n.inputs[1])), n.inputs[1].shape) : null,
]);

/** A binary op on two operands, at least one a Value (a number becomes a constant of the other's graph). */
function applyBinary(op: OpDef, a: Operand, b: Operand): Value {
  const ref = typeof a === 'number' ? (b as Value) : a;
  return ref.graph.apply1(op, [lift(ref, a), lift(ref, b)]);
}
export function add(a: Operand, b: Operand): Value {
  return applyBinary(AddOp, a, b);
}
export function sub(a: Operand, b: Operand): Value {
  return applyBinary(SubOp, a, b);
}
export function mul(a: Operand, b: Operand): Value {
  return applyBinary(MulOp, a, b);
}
export function div(a: Operand, b: Operand): Value {
  return applyBinary(DivOp, a, b);
}

type UnaryGrad = (n: GraphNode, g: Value) => Value;

function unaryDef(type: string, grad: UnaryGrad | null, emit?: OpDef['emit']): OpDef {
  return {
    type,
    infer(inputs): OutputSpec[] {
      floatCheck(type, inputs);
      return [{ dtype: 'float32', shape: inputs[0].shape }];
    },
    emit: emit ?? ((ctx, i, o, attrs) => ctx.node(type, [i[0]], [o[0]], attrs)),
    vjp: grad ? (n, [g], need) => [need[0] && g ? grad(n, g) : null] : undefined,
  };
}

const x0 = (n: GraphNode): Value => n.inputs[0];
const y0 = (n: GraphNode): Value => n.outputs[0];

export const NegOp = unaryDef('Neg', (_n, g) => neg(g));
export const ExpOp = unaryDef('Exp', (n, g) => mul(g, y0(n)));
export const LogOp = unaryDef('Log', (n, g) => div(g, x0(n)));
export const SqrtOp = unaryDef('Sqrt', (n, g) => div(g, mul(y0(n), 2)));
export const SigmoidOp = unaryDef('Sigmoid', (n, g) => mul(g, mul(y0(n), sub(1, y0(n)))));
export const TanhOp = unaryDef('Tanh', (n, g) => mul(g, sub(1, mul(y0(n), y0(n)))));
export const ErfOp = unaryDef('Erf', (n, g) => mul(g, mul(exp(neg(mul(x0(n), x0(n)))), 2 / Math.sqrt(Math.PI))));
export const AbsOp = unaryDef('Abs', (n, g) => mul(g, sign(x0(n))));
export const SignOp = unaryDef('Sign', null);
export const ReluOp = unaryDef('Relu', (n, g) => mul(g, sign(y0(n))));

/** LeakyReLU(alpha): gradient is 1 where x > 0, alpha elsewhere (PyTorch's convention at 0). */
export const LeakyReluOp = unaryDef('LeakyRelu', (n, g) => {
  const alpha = n.attrs.alpha as number;
  const pos = greater(x0(n), 0);
  return where(pos, g, mul(g, alpha));
});

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Exact (erf) GELU, emitted as onnxruntime's fused com.microsoft Gelu. */
export const GeluOp = unaryDef(
  'Gelu',
  (n, g) => {
    const x = x0(n);
    const cdf = mul(add(erf(mul(x, SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), INV_SQRT_2PI);
    return mul(g, add(cdf, mul(x, pdf)));
  },
  (ctx, i, o) => ctx.node('Gelu', [i[0]], [o[0]], {}, 'com.microsoft'),
);

/** QuickGELU x·σ(1.702x), as OpenAI trained CLIP. */
export const QuickGeluOp = unaryDef(
  'QuickGelu',
  (n, g) => {
    const x = x0(n);
    const s = sigmoid(mul(x, 1.702));
    return mul(g, add(s, mul(mul(x, 1.702), mul(s, sub(1, s)))));
  },
  (ctx, i, o) => ctx.node('QuickGelu', [i[0]], [o[0]], { alpha: 1.702 }, 'com.microsoft'),
);

/** x ** p for a constant exponent p. */
export const PowOp: OpDef = {
  type: 'Pow',
  infer(inputs) {
    floatCheck('Pow', inputs);
    return [{ dtype: 'float32', shape: inputs[0].shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Pow', [i[0], ctx.f32(attrs.exponent as number)], [o[0]]);
  },
  vjp(n, [g], need) {
    if (!need[0] || !g) return [null];
    const p = n.attrs.exponent as number;
    return [mul(g, mul(pow(x0(n), p - 1), p))];
  },
};

/** Clamps to [min, max]; the gradient passes where min ≤ x ≤ max. */
export const ClipOp: OpDef = {
  type: 'Clip',
  infer(inputs) {
    floatCheck('Clip', inputs);
    return [{ dtype: 'float32', shape: inputs[0].shape }];
  },
  emit(ctx, i, o, attrs) {
    ctx.node('Clip', [i[0], ctx.f32(attrs.min as number), ctx.f32(attrs.max as number)], [o[0]]);
  },
  vjp(n, [g], need) {
    if (!need[0] || !g) return [null];
    const x = x0(n);
    const inside = and(greaterOrEqual(x, n.attrs.min as number), lessOrEqual(x, n.attrs.max as number));
    return [where(inside, g, g.graph.scalar(0))];
  },
};

export const neg = (x: Value): Value => x.graph.apply1(NegOp, [x]);
export const exp = (x: Value): Value => x.graph.apply1(ExpOp, [x]);
export const log = (x: Value): Value => x.graph.apply1(LogOp, [x]);
export const sqrt = (x: Value): Value => x.graph.apply1(SqrtOp, [x]);
export const sigmoid = (x: Value): Value => x.graph.apply1(SigmoidOp, [x]);
export const tanh = (x: Value): Value => x.graph.apply1(TanhOp, [x]);
export const erf = (x: Value): Value => x.graph.apply1(ErfOp, [x]);
export const abs = (x: Value): Value => x.graph.apply1(AbsOp, [x]);
export const sign = (x: Value): Value => x.graph.apply1(SignOp, [x]);
export const relu = (x: Value): Value => x.graph.apply1(ReluOp, [x]);
export const leakyRelu = (x: Value, alpha = 0.01): Value => x.graph.apply1(LeakyReluOp, [x], { alpha });
export const gelu = (x: Value): Value => x.graph.apply1(GeluOp, [x]);
export const quickGelu = (x: Value): Value => x.graph.apply1(QuickGeluOp, [x]);
export const pow = (x: Value, exponent: number): Value => x.graph.apply1(PowOp, [x], { exponent });
export const clip = (x: Value, min: number, max: number): Value => x.graph.apply1(ClipOp, [x], { min, max });

// ---- comparisons and selection (no gradient to the condition) ----

function compareDef(type: string): OpDef {
  return {
    type,
    infer(inputs) {
      floatCheck(type, inputs);
      return [{ dtype: 'bool', shape: broadcastShapes(type, inputs[0].shape, inputs[1].shape) }];
    },
    emit(ctx, i, o) {
      ctx.node(type, [i[0], i[1]], [o[0]]);
    },
  };
}
export const GreaterOp = compareDef('Greater');
export const GreaterOrEqualOp = compareDef('GreaterOrEqual');
export const LessOrEqualOp = compareDef('LessOrEqual');
export const EqualOp = compareDef('Equal');

export const AndOp: OpDef = {
  type: 'And',
  infer(inputs) {
    if (inputs.some((v) => v.dtype !== 'bool')) throw new GraphError('And: expected bool inputs');
    return [{ dtype: 'bool', shape: broadcastShapes('And', inputs[0].shape, inputs[1].shape) }];
  },
  emit(ctx, i, o) {
    ctx.node('And', [i[0], i[1]], [o[0]]);
  },
};

export const WhereOp: OpDef = {
  type: 'Where',
  infer(inputs) {
    const [c, a, b] = inputs;
    if (c.dtype !== 'bool') throw new GraphError(`Where: condition must be bool, got ${c.dtype}`);
    floatCheck('Where', [a, b]);
    return [{ dtype: 'float32', shape: broadcastShapes('Where', c.shape, broadcastShapes('Where', a.shape, b.shape)) }];
  },
  emit(ctx, i, o) {
    ctx.node('Where', [i[0], i[1], i[2]], [o[0]]);
  },
  vjp(n, [g], need) {
    if (!g) return [null, null, null];
    const zero = g.graph.scalar(0);
    const c = n.inputs[0];
    return [null, need[1] ? unbroadcast(where(c, g, zero), n.inputs[1].shape) : null, need[2] ? unbroadcast(where(c, zero, g), n.inputs[2].shape) : null];
  },
};

const cmp =
  (op: OpDef) =>
  (a: Value, b: Operand): Value =>
    a.graph.apply1(op, [a, lift(a, b)]);
export const greater = cmp(GreaterOp);
export const greaterOrEqual = cmp(GreaterOrEqualOp);
export const lessOrEqual = cmp(LessOrEqualOp);
export const equal = cmp(EqualOp);
export const and = (a: Value, b: Value): Value => a.graph.apply1(AndOp, [a, b]);
export function where(c: Value, a: Operand, b: Operand): Value {
  return c.graph.apply1(WhereOp, [c, lift(c, a), lift(c, b)]);
}

export type { Attrs };
