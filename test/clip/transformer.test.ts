import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture } from '../support/fixtures.ts';
import { CompiledGraph, Graph, gradients, mul, reduceSum } from '../../src/graph/index.ts';
import { blockConstants, causalMask, residualBlock } from '../../src/clip/transformer.ts';

interface BlockFixture {
  config: { width: number; heads: number; tokens: number; batch: number; act: string; causal: boolean };
  weights: Record<string, { shape: number[]; data: number[] }>;
  x: number[];
  r: number[];
  y: number[];
  dx: number[];
}

function maxAbs(a: Float32Array, b: number[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const file of ['block_gelu.json', 'block_quickgelu_causal.json']) {
  test(`transformer block forward and input gradient match PyTorch (${file})`, async (tc) => {
    // Reference: scripts/fixtures/block_ref.py (torch.nn.MultiheadAttention + MLP, fp32).
    const fx = JSON.parse(readFileSync(fixture('graph', file), 'utf8')) as BlockFixture;
    const { width: d, heads, tokens: t, batch: b } = fx.config;
    const g = new Graph('block');
    const x = g.input('x', [b, t, d]);
    const src = { get: (n: string) => ({ data: Float32Array.from(fx.weights[n].data), shape: fx.weights[n].shape }) };
    const w = blockConstants(g, src, '');
    const y = residualBlock(x, w, {
      heads,
      activation: fx.config.act === 'quickgelu' ? 'quickgelu' : 'gelu',
      mask: fx.config.causal ? causalMask(g, t) : undefined,
    });
    const r = g.constant('r', Float32Array.from(fx.r), [b, t, d]);
    const loss = reduceSum(mul(y, r), [0, 1, 2]);
    const [dx] = gradients(loss, [x]);
    const c = await CompiledGraph.compile(g, { y, dx: dx! });
    const out = await c.run({ x: Float32Array.from(fx.x) });
    const ey = maxAbs(out.y.data, fx.y);
    const edx = maxAbs(out.dx.data, fx.dx);
    tc.diagnostic(`max abs error: forward ${ey.toExponential(2)}, input gradient ${edx.toExponential(2)}`);
    // fp32 on both sides; values are O(1) and the reductions are over ≤ 128 terms: 1e-5 covers summation-order round-off.
    assert.ok(ey < 1e-5, `forward max abs error ${ey}`);
    assert.ok(edx < 1e-5, `input-gradient max abs error ${edx}`);
    await c.release();
  });
}

for (const file of ['block_gelu.json', 'block_quickgelu_causal.json']) {
  test(`fused-attention block forward matches PyTorch (${file})`, async (tc) => {
    const fx = JSON.parse(readFileSync(fixture('graph', file), 'utf8')) as BlockFixture;
    const { width: d, heads, tokens: t, batch: b } = fx.config;
    const g = new Graph('block_fused');
    const x = g.input('x', [b, t, d]);
    const src = { get: (n: string) => ({ data: Float32Array.from(fx.weights[n].data), shape: fx.weights[n].shape }) };
    const y = residualBlock(x, blockConstants(g, src, ''), {
      heads,
      activation: fx.config.act === 'quickgelu' ? 'quickgelu' : 'gelu',
      causal: fx.config.causal,
      fused: true,
    });
    const c = await CompiledGraph.compile(g, { y });
    const out = await c.run({ x: Float32Array.from(fx.x) });
    const ey = maxAbs(out.y.data, fx.y);
    tc.diagnostic(`max abs error: forward ${ey.toExponential(2)}`);
    assert.ok(ey < 1e-5, `forward max abs error ${ey}`);
    await c.release();
  });
}
