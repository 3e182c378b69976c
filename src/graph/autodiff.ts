// Reverse-mode differentiation over a Graph: appends the gradient nodes to the same graph.
import { type Value } from './graph.ts';
import { GraphError, sameShape, shapeStr } from './types.ts';
import { add } from './ops/elementwise.ts';

/**
 * Gradients of `y` with respect to each of `wrt`, built as new nodes of y's graph.
 * `seed` is the upstream gradient dL/dy (default: ones, so y is usually a scalar loss).
 * Frozen tensors (initializers) never receive gradients, but gradients flow through them to activations.
 * An entry is null when y does not depend on that tensor.
 */
export function gradients(y: Value, wrt: readonly Value[], seed?: Value): (Value | null)[] {
  const g = y.graph;
  const requires = new Set<number>(wrt.map((v) => v.id));
  const forward = g.nodes.slice();
  for (const n of forward) {
    if (n.inputs.some((v) => requires.has(v.id))) for (const o of n.outputs) requires.add(o.id);
  }
  if (seed && !sameShape(seed.shape, y.shape)) {
    throw new GraphError(`gradients: seed ${shapeStr(seed.shape)} does not match ${y.name}${shapeStr(y.shape)}`);
  }
  const grads = new Map<number, Value>();
  if (!requires.has(y.id)) return wrt.map(() => null);
  grads.set(y.id, seed ?? g.scalar(1, y.shape));

  for (let k = forward.length - 1; k >= 0; k--) {
    const node = forward[k];
    const gys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (gys.every((x) => x === null)) continue;
    const needs = node.inputs.map((v) => requires.has(v.id) && v.dtype === 'float32');
    if (!needs.some(Boolean)) continue;
    if (!node.op.vjp) throw new GraphError(`${node.op.type}: no gradient rule (needed for ${node.inputs.map(String).join(', ')})`);
    const gxs = node.op.vjp(node, gys, needs);
    node.inputs.forEach((v, i) => {
      const gx = gxs[i];
      if (!needs[i] || !gx) return;
      if (!sameShape(gx.shape, v.shape)) {
        throw new GraphError(`${node.op.type}: gradient rule produced ${shapeStr(gx.shape)} for input ${v.name}${shapeStr(v.shape)}`);
      }
      const prev = grads.get(v.id);
      grads.set(v.id, prev ? add(prev, gx) : gx);
    });
  }
  return wrt.map((v) => grads.get(v.id) ?? null);
}
