// ViT-L/14 block timings (290 tokens, width 1024, 16 heads, MLP 4096) and MatMul throughput on onnxruntime.
import { CompiledGraph, Graph, gradients, matmul, mul, reduceSum, type Value } from '../src/graph/index.ts';
import { blockConstants, residualBlock } from '../src/clip/transformer.ts';
import { median, randn, timeit } from './util.ts';

export const VIT_L = { width: 1024, heads: 16, tokens: 290, mlp: 4096 };

function randomBlockSource(d: number, seed: number) {
  const shapes: Record<string, number[]> = {
    'ln_1.weight': [d],
    'ln_1.bias': [d],
    'attn.in_proj_weight': [3 * d, d],
    'attn.in_proj_bias': [3 * d],
    'attn.out_proj.weight': [d, d],
    'attn.out_proj.bias': [d],
    'ln_2.weight': [d],
    'ln_2.bias': [d],
    'mlp.c_fc.weight': [4 * d, d],
    'mlp.c_fc.bias': [4 * d],
    'mlp.c_proj.weight': [d, 4 * d],
    'mlp.c_proj.bias': [d],
  };
  let k = seed;
  return {
    get(name: string) {
      const shape = shapes[name];
      const n = shape.reduce((a, b) => a * b, 1);
      const scale = name.includes('ln_') && name.endsWith('weight') ? 0 : 0.02;
      const data = randn(n, k++, scale);
      if (scale === 0) data.fill(1);
      return { data, shape };
    },
  };
}

export async function benchMatmul(threads?: number): Promise<number> {
  const n = 1024;
  const g = new Graph('matmul');
  const a = g.input('a', [n, n]);
  const b = g.constant('b', randn(n * n, 3, 0.02), [n, n]);
  const c = await CompiledGraph.compile(g, { y: matmul(a, b) }, { threads });
  const feeds = { a: randn(n * n, 4, 1) };
  const ms = median(await timeit(() => c.run(feeds), 10, 30));
  await c.release();
  return (2 * n * n * n) / (ms * 1e6);
}

export async function benchBlock(threads?: number): Promise<{ fwd: number; fwdbwd: number }> {
  const { width: d, heads, tokens: t } = VIT_L;
  const gf = new Graph('block_fwd');
  const xf = gf.input('x', [1, t, d]);
  const yf = residualBlock(xf, blockConstants(gf, randomBlockSource(d, 11), ''), { heads, activation: 'gelu', fused: process.env.MVFA_UNFUSED ? false : true });
  const fwd = await CompiledGraph.compile(gf, { y: yf }, { threads });

  const gb = new Graph('block_fwdbwd');
  const xb = gb.input('x', [1, t, d]);
  const seed = gb.input('gy', [1, t, d]);
  const yb = residualBlock(xb, blockConstants(gb, randomBlockSource(d, 11), ''), { heads, activation: 'gelu' });
  const loss = reduceSum(mul(yb, seed), [0, 1, 2]);
  const [dx] = gradients(loss, [xb]);
  const bwd = await CompiledGraph.compile(gb, { y: yb, dx: dx as Value }, { threads });

  const x = randn(t * d, 5, 1);
  const gy = randn(t * d, 6, 1);
  const f = median(await timeit(() => fwd.run({ x }), 3, 15));
  const fb = median(await timeit(() => bwd.run({ x, gy }), 3, 15));
  await fwd.release();
  await bwd.release();
  return { fwd: f, fwdbwd: fb };
}
