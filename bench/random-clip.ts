// A random-weight CLIP with the shapes of OpenAI's ViT-L/14-336 (both towers), under OpenAI names.
import { existsSync, statSync } from 'node:fs';
import { type ClipStateDict } from '../src/clip/state-dict.ts';
import { BLOCK_KEYS, type BlockKey, blockTensorShapes } from '../src/clip/transformer.ts';
import { writeSafetensors } from '../src/io/weights/safetensors.ts';
import { type HostTensor } from '../src/io/weights/tensor.ts';
import { randn } from './util.ts';

export const VIT_L_14_336 = { vWidth: 1024, vLayers: 24, patch: 14, grid: 24, tWidth: 768, tLayers: 12, ctx: 77, vocab: 49408, embed: 768 };

function blockShapes(d: number): Record<string, number[]> {
  const s = blockTensorShapes(d);
  return Object.fromEntries(Object.entries(BLOCK_KEYS).map(([f, k]) => [k, s[f as BlockKey]]));
}

export function randomClipStateDict(c = VIT_L_14_336, seed = 1): ClipStateDict {
  const sd: ClipStateDict = new Map();
  let k = seed;
  const put = (name: string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const isLnW = /ln_[^.]*\.weight$|ln_(pre|post|final)\.weight$/.test(name);
    const data = isLnW ? new Float32Array(n).fill(1) : randn(n, k++, name.endsWith('bias') ? 0.01 : 0.02);
    sd.set(name, { data, shape });
  };
  put('visual.conv1.weight', [c.vWidth, 3, c.patch, c.patch]);
  put('visual.class_embedding', [c.vWidth]);
  put('visual.positional_embedding', [c.grid * c.grid + 1, c.vWidth]);
  put('visual.ln_pre.weight', [c.vWidth]);
  put('visual.ln_pre.bias', [c.vWidth]);
  for (let i = 0; i < c.vLayers; i++) for (const [key, shape] of Object.entries(blockShapes(c.vWidth))) put(`visual.transformer.resblocks.${i}.${key}`, shape);
  put('visual.ln_post.weight', [c.vWidth]);
  put('visual.ln_post.bias', [c.vWidth]);
  put('visual.proj', [c.vWidth, c.embed]);
  put('token_embedding.weight', [c.vocab, c.tWidth]);
  put('positional_embedding', [c.ctx, c.tWidth]);
  for (let i = 0; i < c.tLayers; i++) for (const [key, shape] of Object.entries(blockShapes(c.tWidth))) put(`transformer.resblocks.${i}.${key}`, shape);
  put('ln_final.weight', [c.tWidth]);
  put('ln_final.bias', [c.tWidth]);
  put('text_projection', [c.tWidth, c.embed]);
  return sd;
}

/** Writes the random ViT-L/14-336 checkpoint once (≈1.7 GB) and returns its path. */
export async function randomClipFile(path = '/tmp/mvfa-bench/vit-l-14-336-random.safetensors'): Promise<string> {
  if (existsSync(path) && statSync(path).size > 1.6e9) return path;
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.slice(0, path.lastIndexOf('/')), { recursive: true });
  const sd = randomClipStateDict();
  const t = new Map<string, HostTensor>();
  for (const [k, v] of sd) t.set(k, { dtype: 'float32', shape: v.shape, data: v.data });
  await writeSafetensors(path, t, undefined, { overwrite: true });
  return path;
}
