// The graphs on onnxruntime's WebGPU execution provider (Dawn) give the CPU provider's numbers: a transformer
// block forward (fused and unfused attention) and its input gradient, plus the training losses' operators.
// Runs where a WebGPU adapter exists (on Linux without a GPU: Mesa ≥ 25's llvmpipe Vulkan driver); skipped, saying
// so, elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CompiledGraph, type Device, Graph, type Value, gradients, mul, probeDevice, reduceSum } from '../../src/graph/index.ts';
import { blockConstants, causalMask, residualBlock } from '../../src/clip/transformer.ts';
import { ClipModel } from '../../src/clip/model.ts';
import { normalizeStateDict } from '../../src/clip/state-dict.ts';
import { adapterFeeds, initAdapters } from '../../src/mvfa/adapters.ts';
import { compileInference, runInference } from '../../src/mvfa/inference.ts';
import { compileTrainStep } from '../../src/mvfa/training-graph.ts';
import { tinyClipTensors } from '../support/tiny-clip.ts';
import { rand } from './gradcheck.ts';

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

test('WebGPU: the MVFA inference and training-step graphs (tiny CLIP) give the CPU provider numbers', async (tc) => {
  const reason = await probeDevice('webgpu');
  if (reason) {
    tc.skip(`no WebGPU adapter: ${reason}`);
    return;
  }
  const sd = normalizeStateDict(tinyClipTensors(), 'tiny');
  const clip = new ClipModel(sd, 'tiny');
  const bb = { weights: sd, vision: clip.config.vision, activation: clip.activation };
  const levels = [1, 2];
  const size = 56;
  const d = clip.config.embedDim;
  const adapters = initAdapters(clip.config.vision.width, d, levels, 4);
  // Small text features keep the ×100 logits out of softmax saturation, so the maps carry information.
  const text = rand(2 * d, 5, -0.005, 0.005);
  const image = rand(3 * size * size, 6, 0, 1);
  const infer = async (device: Device) => {
    const g = await compileInference(bb, levels, d, size, 1, { device, threads: 1 });
    const r = await runInference(g, image, adapters, text);
    await g.release();
    return r;
  };
  const [ci, gi] = [await infer('cpu'), await infer('webgpu')];
  assert.ok(Math.max(...ci.zeroSeg) - Math.min(...ci.zeroSeg) > 1e-2, 'the zero-shot map varies (the comparison is not of constants)');
  const eSeg = maxAbs(gi.zeroSeg, ci.zeroSeg);
  const eDet = Math.abs(gi.zeroDet[0] - ci.zeroDet[0]);
  const eTok = Math.max(...ci.tokens.seg.map((t, j) => maxAbs(gi.tokens.seg[j], t)));

  const tokens = (size / 14) ** 2 + 1;
  const stream = rand(tokens * clip.config.vision.width, 7);
  const mask = new Float32Array(size * size).map((_, i) => (i % 9 < 3 ? 1 : 0));
  const step = async (device: Device) => {
    const spec = { levels, bottleneck: d, imageSize: size, batch: 1, tokens, acOnly: false };
    const { graph, withGrad } = await compileTrainStep(bb, spec, { device, threads: 1 });
    const r = await graph.run({ stream, text, label: Float32Array.of(1), mask, ...adapterFeeds(adapters) });
    await graph.release();
    return { loss: r.loss.data[0], grads: withGrad.map((n) => r[`grad_${n}`].data) };
  };
  const [cs, gs] = [await step('cpu'), await step('webgpu')];
  const eLoss = Math.abs(gs.loss - cs.loss) / Math.abs(cs.loss);
  const eGrad = Math.max(...cs.grads.map((g, i) => maxAbs(gs.grads[i], g) / Math.max(...g.map(Math.abs))));
  tc.diagnostic(
    `WebGPU vs CPU: zero_seg ${eSeg.toExponential(2)}, zero_det ${eDet.toExponential(2)}, tokens ${eTok.toExponential(2)}, ` +
      `loss rel ${eLoss.toExponential(2)}, gradients rel ${eGrad.toExponential(2)}`,
  );
  // fp32 on both providers with different summation orders; maps and tokens are O(1), gradients scaled by their max.
  assert.ok(eSeg < 1e-4 && eDet < 1e-4 && eTok < 1e-4, 'inference outputs differ');
  assert.ok(eLoss < 1e-4, `loss differs by ${eLoss} (relative)`);
  assert.ok(eGrad < 1e-3, `gradients differ by ${eGrad} (relative to their largest entry)`);
});
