// Finite-difference gradient checking of graph operators on onnxruntime.
import assert from 'node:assert/strict';
import { CompiledGraph, Graph, type Value, gradients, mul, numel, reduceSum } from '../../src/graph/index.ts';

/** Deterministic uniform numbers in [lo, hi). */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

export interface CheckInput {
  shape: number[];
  lo?: number;
  hi?: number;
  /** Fixed data instead of random values. */
  data?: Float32Array;
}

/**
 * Checks d/dx Σ(f(x)⊙R) from the op's gradient rule against central differences in float32.
 * Tolerance: float32 round-off in the sum is ~1e-7·Σ|terms|, divided by 2h with h = 1e-2 gives ~1e-5 absolute
 * noise per entry, and the O(h²·f''') truncation error is ~1e-4 for the smooth O(1) functions tested; so
 * |analytic − numeric| ≤ 2e-3·max(1, |numeric|) accepts correct rules and rejects wrong ones (errors ≥ 1e-1).
 */
export async function gradCheck(name: string, inputs: CheckInput[], f: (...xs: Value[]) => Value, h = 1e-2, tol = 2e-3): Promise<number> {
  const g = new Graph(name);
  const xs = inputs.map((s, i) => g.input(`x${i}`, s.shape));
  const y = f(...xs);
  const r = g.constant('r', rand(numel(y.shape), 777, 0.5, 1.5), y.shape);
  const loss = reduceSum(
    mul(y, r),
    y.shape.map((_, i) => i),
  );
  const grads = gradients(loss, xs);
  const outs: Record<string, Value> = { loss };
  grads.forEach((gv, i) => {
    assert.ok(gv, `${name}: no gradient for input ${i}`);
    outs[`g${i}`] = gv;
  });
  const c = await CompiledGraph.compile(g, outs, { threads: 1 });
  const feeds: Record<string, Float32Array> = {};
  inputs.forEach((s, i) => (feeds[`x${i}`] = s.data ?? rand(numel(s.shape), 101 + 31 * i, s.lo ?? -1, s.hi ?? 1)));
  const base = await c.run(feeds);
  let worst = 0;
  for (let i = 0; i < inputs.length; i++) {
    const an = base[`g${i}`].data;
    const x = feeds[`x${i}`];
    for (let k = 0; k < x.length; k++) {
      const orig = x[k];
      x[k] = orig + h;
      const lp = (await c.run(feeds, ['loss'])).loss.data[0];
      x[k] = orig - h;
      const lm = (await c.run(feeds, ['loss'])).loss.data[0];
      x[k] = orig;
      const num = (lp - lm) / (2 * h);
      const err = Math.abs(an[k] - num) / Math.max(1, Math.abs(num));
      worst = Math.max(worst, err);
      assert.ok(err <= tol, `${name}: input ${i} element ${k}: analytic ${an[k]} vs numeric ${num}`);
    }
  }
  await c.release();
  return worst;
}
