// CLIP vision tower as graph nodes: patch embedding (matmul form), class token, positional embedding, blocks, head.
import { type Graph, type Value, GraphError, add, concat, expand, layerNorm, linear, matmul, reshape, slice, transpose } from '../graph/index.ts';
import { resizeAntialiasFloat32 } from '../io/image/resample.ts';
import { type VisionConfig } from './config.ts';
import { type ClipStateDict, type F32Tensor } from './state-dict.ts';
import { type Activation, blockConstants, residualBlock } from './transformer.ts';

export function sdSource(sd: ClipStateDict): { get(name: string): F32Tensor } {
  return {
    get(name: string) {
      const t = sd.get(name);
      if (!t) throw new GraphError(`missing weight '${name}'`);
      return t;
    },
  };
}

/**
 * Positional embedding for an input grid of `grid`×`grid` patches: the checkpoint's table if the grid matches,
 * else its patch rows resized like open_clip's `resize_pos_embed` (bicubic, antialias, align_corners=False),
 * with the class-token row kept. Returns [grid²+1, width].
 */
export function resizedPositionalEmbedding(pos: F32Tensor, grid: number): Float32Array {
  const [rows, width] = pos.shape;
  const old = Math.round(Math.sqrt(rows - 1));
  if (old === grid) return pos.data;
  // [old*old, W] → [W, old, old]
  const chw = new Float32Array(width * old * old);
  for (let p = 0; p < old * old; p++) for (let c = 0; c < width; c++) chw[c * old * old + p] = pos.data[(p + 1) * width + c];
  const r = resizeAntialiasFloat32(chw, width, old, old, grid, grid, 'bicubic');
  const out = new Float32Array((grid * grid + 1) * width);
  out.set(pos.data.subarray(0, width), 0);
  for (let p = 0; p < grid * grid; p++) for (let c = 0; c < width; c++) out[(p + 1) * width + c] = r[c * grid * grid + p];
  return out;
}

export interface VisionInputs {
  imageSize: number;
}

export function gridFor(cfg: VisionConfig, imageSize: number): number {
  const grid = Math.floor(imageSize / cfg.patchSize);
  if (grid < 1) throw new GraphError(`image size ${imageSize} is smaller than one ${cfg.patchSize}-px patch`);
  return grid;
}

/** image [B,3,S,S] → tokens after ln_pre [B, grid²+1, width]. Pixels beyond grid·patch are ignored (as a stride-p conv). */
export function visionStem(image: Value, sd: ClipStateDict, cfg: VisionConfig): Value {
  const g = image.graph;
  const [b, c, s] = image.shape;
  if (c !== 3 || image.shape[3] !== s) throw new GraphError(`vision tower: expected [B,3,S,S] image, got [${image.shape}]`);
  const p = cfg.patchSize;
  const grid = gridFor(cfg, s);
  const used = grid * p;
  const cropped = slice(slice(image, 2, 0, used), 3, 0, used);
  const patches = reshape(transpose(reshape(cropped, [b, 3, grid, p, grid, p]), [0, 2, 4, 1, 3, 5]), [b, grid * grid, 3 * p * p]);
  const conv = sd.get('visual.conv1.weight')!;
  const w = g.weight('visual.conv1.weight', conv, [cfg.width, 3 * p * p]);
  const emb = linear(patches, w); // [B, grid², W]
  const cls = g.weight('visual.class_embedding', sd.get('visual.class_embedding')!.data, [1, 1, cfg.width]);
  const x = concat([expand(cls, [b, 1, cfg.width]), emb], 1);
  const table = sd.get('visual.positional_embedding')!;
  const resized = resizedPositionalEmbedding(table, grid);
  const posShape = [grid * grid + 1, cfg.width];
  const pos =
    resized === table.data ? g.weight('visual.positional_embedding', resized, posShape) : g.constant(`visual.positional_embedding_${grid}`, resized, posShape);
  const src = sdSource(sd);
  return layerNorm(add(x, pos), constOf(g, src, 'visual.ln_pre.weight'), constOf(g, src, 'visual.ln_pre.bias'));
}

function constOf(g: Graph, src: ReturnType<typeof sdSource>, name: string): Value {
  const t = src.get(name);
  return g.weight(name, t, t.shape);
}

/** Vision block i (0-based) applied to x. */
export function visionBlock(x: Value, sd: ClipStateDict, cfg: VisionConfig, i: number, activation: Activation, fused = false): Value {
  const w = blockConstants(x.graph, sdSource(sd), `visual.transformer.resblocks.${i}.`);
  return residualBlock(x, w, { heads: cfg.heads, activation, fused });
}

/** ln_post(class token) · proj → [B, outputDim]. */
export function visionHead(x: Value, sd: ClipStateDict, cfg: VisionConfig): Value {
  const g = x.graph;
  const src = sdSource(sd);
  const cls = reshape(slice(x, 1, 0, 1), [x.shape[0], cfg.width]);
  const h = layerNorm(cls, constOf(g, src, 'visual.ln_post.weight'), constOf(g, src, 'visual.ln_post.bias'));
  return matmul(h, constOf(g, src, 'visual.proj'));
}

/** The whole tower: image [B,3,S,S] → embedding [B, outputDim] (forward only: fused attention). */
export function visionTower(image: Value, sd: ClipStateDict, cfg: VisionConfig, activation: Activation): Value {
  let x = visionStem(image, sd, cfg);
  for (let i = 0; i < cfg.layers; i++) x = visionBlock(x, sd, cfg, i, activation, true);
  return visionHead(x, sd, cfg);
}
