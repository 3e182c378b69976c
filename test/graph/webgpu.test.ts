// The graphs on onnxruntime's WebGPU execution provider (Dawn) give the CPU provider's numbers: a transformer
// block forward (fused and unfused attention) and its input gradient, plus the training losses' operators.
// Runs where a WebGPU adapter exists (on Linux without a GPU: Mesa ≥ 25's llvmpipe Vulkan driver); skipped, saying
// so, elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CompiledGraph, type Device, Graph, type Value, gradients, mul, probeDevice, reduceSum } from '../../src/graph/index.ts';
import { blockConstants, causalMask, residualBlock } from '../../src/clip/transformer.ts';

interface BlockFixture {
  config: { width: number; heads: number; tokens: number; batch: number; act: string; causal: boolean };
  weights: Record<string, { shape: number[]; data: number[] }>;
  x: number[];
  r: number[];
  y: number[];
  dx: number[];
}

function maxAbs(a: Float32Array, b: Float32Array | number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function runBlock(fx: BlockFixture, device: Device, fused: boolean): Promise<{ y: Float32Array; dx?: Float32Array }> {
  const { width: d, heads, tokens: t, batch: b } = fx.config;
  const g = new Graph(`block_${device}_${fused ? 'fused' : 'grad'}`);
  const x = g.input('x', [b, t, d]);
  const src = { get: (n: string) => ({ data: Float32Array.from(fx.weights[n].data), shape: fx.weights[n].shape }) };
  const causal = fx.config.causal;
  const y = residualBlock(x, blockConstants(g, src, ''), {
    heads,
    activation: fx.config.act === 'quickgelu' ? 'quickgelu' : 'gelu',
    fused,
    causal: fused && causal,
    mask: !fused && causal ? causalMask(g, t) : undefined,
  });
  const outs: Record<string, Value> = { y };
  if (!fused) {
    const r = g.constant('r', Float32Array.from(fx.r), [b, t, d]);
    outs.dx = gradients(reduceSum(mul(y, r), [0, 1, 2]), [x])[0]!;
  }
  const c = await CompiledGraph.compile(g, outs, { device, threads: 1 });
  try {
    const out = await c.run({ x: Float32Array.from(fx.x) });
    return { y: out.y.data, dx: out.dx?.data };
  } finally {
    await c.release();
  }
}

for (const file of ['block_gelu.json', 'block_quickgelu_causal.json']) {
  test(`WebGPU: transformer block forward and input gradient match the CPU provider (${file})`, async (tc) => {
    const reason = await probeDevice('webgpu');
    if (reason) {
      tc.skip(`no WebGPU adapter: ${reason}`);
      return;
    }
    const fx = JSON.parse(readFileSync(new URL(`../../fixtures/graph/${file}`, import.meta.url), 'utf8')) as BlockFixture;
    const cpu = await runBlock(fx, 'cpu', false);
    const gpu = await runBlock(fx, 'webgpu', false);
    const cpuFused = await runBlock(fx, 'cpu', true);
    const gpuFused = await runBlock(fx, 'webgpu', true);
    const ey = maxAbs(gpu.y, cpu.y);
    const edx = maxAbs(gpu.dx!, cpu.dx!);
    const ef = maxAbs(gpuFused.y, cpuFused.y);
    tc.diagnostic(
      `max abs difference to the CPU provider: forward ${ey.toExponential(2)}, input gradient ${edx.toExponential(2)}, fused forward ${ef.toExponential(2)}`,
    );
    // Both providers compute in fp32 with other summation orders (O(1) values, ≤ 128-term sums): ~1e-6 apart.
    assert.ok(ey < 1e-5, `forward differs by ${ey}`);
    assert.ok(edx < 1e-5, `input gradient differs by ${edx}`);
    assert.ok(ef < 1e-5, `fused forward differs by ${ef}`);
    // And both match the PyTorch reference of the fixture.
    assert.ok(maxAbs(gpu.y, fx.y) < 1e-5 && maxAbs(gpu.dx!, fx.dx) < 1e-5, 'WebGPU result differs from PyTorch');
  });
}

test('WebGPU: a missing adapter is an error that names --device cpu, never a silent CPU run', async (tc) => {
  const reason = await probeDevice('webgpu');
  if (!reason) {
    tc.skip('a WebGPU adapter exists here; the no-adapter message is checked on machines without one');
    return;
  }
  assert.match(reason, /--device webgpu: no usable WebGPU adapter/);
  assert.match(reason, /--device cpu works/);
});
