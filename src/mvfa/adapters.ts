// MVFA's residual adapters (seg and det per level): weights on the host, and their graph form.
import { type Graph, type Value, GraphError, leakyRelu, matmul, transpose } from '../graph/index.ts';
import { mulberry32 } from '../util/random.ts';

export type Head = 'seg' | 'det';
export const HEADS: readonly Head[] = ['seg', 'det'];

export interface AdapterPair {
  /** [bottleneck, width], PyTorch Linear layout. */
  fc1: Float32Array;
  /** [width, bottleneck]. */
  fc2: Float32Array;
}

/** The adapters of every level, in the official order (level j ↔ block levels[j]). */
export interface AdapterSet {
  width: number;
  bottleneck: number;
  levels: number[];
  seg: AdapterPair[];
  det: AdapterPair[];
}

/** PyTorch's default nn.Linear init (kaiming_uniform a=√5): U(−1/√fan_in, 1/√fan_in), from a seeded generator. */
export function initAdapters(width: number, bottleneck: number, levels: readonly number[], seed: number): AdapterSet {
  const rnd = mulberry32(seed);
  const uniform = (n: number, fanIn: number): Float32Array => {
    const b = 1 / Math.sqrt(fanIn);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rnd() * 2 - 1) * b;
    return a;
  };
  const pair = (): AdapterPair => ({ fc1: uniform(bottleneck * width, width), fc2: uniform(width * bottleneck, bottleneck) });
  return { width, bottleneck, levels: [...levels], seg: levels.map(pair), det: levels.map(pair) };
}

export function cloneAdapters(a: AdapterSet): AdapterSet {
  const c = (p: AdapterPair): AdapterPair => ({ fc1: p.fc1.slice(), fc2: p.fc2.slice() });
  return { ...a, levels: [...a.levels], seg: a.seg.map(c), det: a.det.map(c) };
}

export type AdapterFc = 'fc1' | 'fc2';

/** One adapter tensor: head, layer, level index (0-based position in `levels`), its graph input and file names. */
export interface AdapterParam {
  head: Head;
  fc: AdapterFc;
  level: number;
  /** Graph input name (`seg_fc1_0`). */
  name: string;
  /** Key in checkpoint files, as the official code names it (`seg_adapters.0.fc1.0.weight`). */
  key: string;
}

/** Graph input name of a tensor, e.g. `seg_fc1_0` (the one place that spells it; never parse it back). */
export function adapterInputName(head: Head, fc: AdapterFc, j: number): string {
  return `${head}_${fc}_${j}`;
}

/** Key of an adapter tensor in checkpoint files, as the official code names it (`seg_adapters.0.fc1.0.weight`). */
export function adapterKey(head: Head, j: number, fc: AdapterFc): string {
  return `${head}_adapters.${j}.${fc}.0.weight`;
}

/** Every adapter tensor of `nLevels` levels of `heads`, in the official order (per head: level, fc1 then fc2). */
export function adapterParams(nLevels: number, heads: readonly Head[] = HEADS): AdapterParam[] {
  const out: AdapterParam[] = [];
  for (const head of heads)
    for (let level = 0; level < nLevels; level++)
      for (const fc of ['fc1', 'fc2'] as const) out.push({ head, fc, level, name: adapterInputName(head, fc, level), key: adapterKey(head, level, fc) });
  return out;
}

/** The adapter tensor a graph input name stands for (looked up among `adapterParams`, not parsed). */
export function adapterParam(name: string, nLevels: number): AdapterParam {
  const p = adapterParams(nLevels).find((q) => q.name === name);
  if (!p) throw new RangeError(`'${name}' is not an adapter tensor of ${nLevels} levels`);
  return p;
}

export interface AdapterValues {
  seg: { fc1: Value; fc2: Value }[];
  det: { fc1: Value; fc2: Value }[];
}

/** Declares every adapter tensor as a graph input (trainable or swapped at run time). */
export function adapterInputs(g: Graph, width: number, bottleneck: number, nLevels: number): AdapterValues {
  const mk = (head: Head) =>
    Array.from({ length: nLevels }, (_, j) => ({
      fc1: g.input(adapterInputName(head, 'fc1', j), [bottleneck, width]),
      fc2: g.input(adapterInputName(head, 'fc2', j), [width, bottleneck]),
    }));
  return { seg: mk('seg'), det: mk('det') };
}

/** Feeds for `adapterInputs`. */
export function adapterFeeds(a: AdapterSet): Record<string, Float32Array> {
  const f: Record<string, Float32Array> = {};
  for (const p of adapterParams(a.levels.length)) f[p.name] = a[p.head][p.level][p.fc];
  return f;
}

/** mid = LeakyReLU(x·W1ᵀ), out = LeakyReLU(mid·W2ᵀ) (slope 0.01, no biases). */
export function adapter(x: Value, w: { fc1: Value; fc2: Value }): { mid: Value; out: Value } {
  const mid = leakyRelu(matmul(x, transpose(w.fc1, [1, 0])), 0.01);
  const out = leakyRelu(matmul(mid, transpose(w.fc2, [1, 0])), 0.01);
  return { mid, out };
}

export function checkAdapterFit(a: AdapterSet, width: number, embedDim: number, file = 'adapters'): void {
  if (a.width !== width) throw new GraphError(`${file}: adapters expect width ${a.width}, but the CLIP vision tower has width ${width}`);
  if (a.bottleneck !== embedDim) {
    throw new GraphError(`${file}: adapter bottleneck ${a.bottleneck} differs from the CLIP embedding width ${embedDim} (the text features' width)`);
  }
}
