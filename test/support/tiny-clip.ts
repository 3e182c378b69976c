// A tiny random CLIP in OpenAI naming, generated from the shared seeded generator (test/support/seeded.ts) so that it
// holds exactly the weights scripts/fixtures/clip_ref.py builds (tiny_clip_tensors there) for the same options.
// Nothing of it is committed: both sides regenerate it; only the Python reference outputs are committed.
//
// Layout (as clip_ref.py's model): vision width 128, 2 blocks, patch 14, grid 24 (336 px), text width 64, 2 blocks,
// context 77, vocabulary 49408, embedding 32. Every tensor `name` is its own stream with seed streamSeed(seed, name):
//   LayerNorm weights     1 + U(−0.1, 0.1)            LayerNorm and Linear biases   U(−0.1, 0.1)
//   Linear/conv weights   U(±1/√fan_in)               class/positional embedding    U(±1/√width)
//   token embedding       U(−1, 1)                    text positional embedding     U(−0.01, 0.01)
//   projections           U(±1/√width)                logit_scale                   4.6052 (≈ ln(1/0.07))
import { join } from 'node:path';
import { writeSafetensors } from '../../src/io/weights/safetensors.ts';
import { type HostTensor } from '../../src/io/weights/tensor.ts';
import { mulberry32Words, seededStream, seededUnit, streamSeed } from './seeded.ts';

export interface TinyClipOptions {
  /** Recorded in the file's metadata only: the activation is chosen when the model is loaded. */
  act?: 'gelu' | 'quickgelu';
  /** Vision tower depth (default 2). */
  vlayers?: number;
  /** Vision tower width (default 128). */
  vwidth?: number;
  /** Recorded in the file's metadata only: pass `visionHeads` to loadClip for a non-default head count. */
  heads?: number;
  /** Base seed of every tensor's stream (default 0). */
  seed?: number;
  /** Recorded in the file's metadata only: the positional embedding is always 24×24+1 and is resized when run. */
  imageSize?: number;
  /** Smaller layouts (the committed .pth/TorchScript loader fixtures): defaults as TINY_CLIP. */
  patch?: number;
  grid?: number;
  twidth?: number;
  tlayers?: number;
  vocab?: number;
  embed?: number;
}

export const TINY_CLIP = { vwidth: 128, vlayers: 2, patch: 14, grid: 24, twidth: 64, tlayers: 2, ctx: 77, vocab: 49408, embed: 32 } as const;

interface Param {
  name: string;
  shape: number[];
  scale: number;
  offset: number;
}

function blockParams(prefix: string, layers: number, d: number): Param[] {
  const out: Param[] = [];
  const p = (name: string, shape: number[], scale: number, offset = 0) => out.push({ name, shape, scale, offset });
  for (let i = 0; i < layers; i++) {
    const b = `${prefix}${i}.`;
    p(`${b}ln_1.weight`, [d], 0.1, 1);
    p(`${b}ln_1.bias`, [d], 0.1);
    p(`${b}attn.in_proj_weight`, [3 * d, d], 1 / Math.sqrt(d));
    p(`${b}attn.in_proj_bias`, [3 * d], 0.1);
    p(`${b}attn.out_proj.weight`, [d, d], 1 / Math.sqrt(d));
    p(`${b}attn.out_proj.bias`, [d], 0.1);
    p(`${b}ln_2.weight`, [d], 0.1, 1);
    p(`${b}ln_2.bias`, [d], 0.1);
    p(`${b}mlp.c_fc.weight`, [4 * d, d], 1 / Math.sqrt(d));
    p(`${b}mlp.c_fc.bias`, [4 * d], 0.1);
    p(`${b}mlp.c_proj.weight`, [d, 4 * d], 1 / Math.sqrt(4 * d));
    p(`${b}mlp.c_proj.bias`, [d], 0.1);
  }
  return out;
}

/** The parameter list (name, shape, scale, offset) in the order clip_ref.py documents. */
function tinyClipParams(o: TinyClipOptions): Param[] {
  const { ctx } = TINY_CLIP;
  const w = o.vwidth ?? TINY_CLIP.vwidth;
  const vlayers = o.vlayers ?? TINY_CLIP.vlayers;
  const patch = o.patch ?? TINY_CLIP.patch;
  const grid = o.grid ?? TINY_CLIP.grid;
  const twidth = o.twidth ?? TINY_CLIP.twidth;
  const tlayers = o.tlayers ?? TINY_CLIP.tlayers;
  const vocab = o.vocab ?? TINY_CLIP.vocab;
  const embed = o.embed ?? TINY_CLIP.embed;
  const p = (name: string, shape: number[], scale: number, offset = 0): Param => ({ name, shape, scale, offset });
  return [
    p('visual.conv1.weight', [w, 3, patch, patch], 1 / Math.sqrt(3 * patch * patch)),
    p('visual.class_embedding', [w], 1 / Math.sqrt(w)),
    p('visual.positional_embedding', [grid * grid + 1, w], 1 / Math.sqrt(w)),
    p('visual.ln_pre.weight', [w], 0.1, 1),
    p('visual.ln_pre.bias', [w], 0.1),
    ...blockParams('visual.transformer.resblocks.', vlayers, w),
    p('visual.ln_post.weight', [w], 0.1, 1),
    p('visual.ln_post.bias', [w], 0.1),
    p('visual.proj', [w, embed], 1 / Math.sqrt(w)),
    p('token_embedding.weight', [vocab, twidth], 1),
    p('positional_embedding', [ctx, twidth], 0.01),
    ...blockParams('transformer.resblocks.', tlayers, twidth),
    p('ln_final.weight', [twidth], 0.1, 1),
    p('ln_final.bias', [twidth], 0.1),
    p('text_projection', [twidth, embed], 1 / Math.sqrt(twidth)),
    p('logit_scale', [], 0, 4.6052),
  ];
}

/** The tiny CLIP's tensors (OpenAI names, float32), identical to clip_ref.py's for the same seed, width and depth. */
export function tinyClipTensors(opts: TinyClipOptions = {}): Map<string, HostTensor> {
  const seed = opts.seed ?? 0;
  const out = new Map<string, HostTensor>();
  for (const { name, shape, scale, offset } of tinyClipParams(opts)) {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(name, { dtype: 'float32', shape, data: seededStream(streamSeed(seed, name), n, scale, offset) });
  }
  return out;
}

/** Writes `dir/tiny.safetensors` (see the header of this file) and returns its path. */
export async function writeTinyClip(dir: string, opts: TinyClipOptions = {}): Promise<string> {
  const path = join(dir, 'tiny.safetensors');
  const meta: Record<string, string> = { seed: String(opts.seed ?? 0) };
  if (opts.act) meta.activation = opts.act;
  if (opts.heads) meta.vision_heads = String(opts.heads);
  if (opts.imageSize) meta.image_size = String(opts.imageSize);
  await writeSafetensors(path, tinyClipTensors(opts), meta, { overwrite: true });
  return path;
}

/**
 * The seeded inputs of clip_ref.py (tiny_clip_inputs): token rows [4, 77] and images [3, 3, S, S] in [0, 1).
 * Row r: start token vocab − 2, then lengths[r] − 2 tokens 1 + ⌊k·(vocab − 4)/2³²⌋ from the stream
 * streamSeed(seed, 'text_ids') (consumed row after row), then the end token vocab − 1; zeros after.
 */
export function tinyClipInputs(
  seed: number,
  imageSize: number,
  vocab: number = TINY_CLIP.vocab,
  nImages = 3,
  lengths: readonly number[] = [5, 9, 17, 75],
): { ids: Int32Array; images: Float32Array } {
  const words = mulberry32Words(
    streamSeed(seed, 'text_ids'),
    lengths.reduce((a, n) => a + n - 2, 0),
  );
  const ids = new Int32Array(lengths.length * 77);
  let off = 0;
  lengths.forEach((len, r) => {
    ids[r * 77] = vocab - 2;
    for (let j = 1; j < len - 1; j++) ids[r * 77 + j] = 1 + Math.floor((words[off++] * (vocab - 4)) / 4294967296);
    ids[r * 77 + len - 1] = vocab - 1;
  });
  return { ids, images: seededUnit(streamSeed(seed, 'images'), nImages * 3 * imageSize * imageSize) };
}
