// CLIP sizes inferred from the tensors of a checkpoint (configs as data, as open_clip).
import { type ClipStateDict, ClipWeightsError } from './state-dict.ts';
import { BLOCK_KEYS, type BlockKey, blockTensorShapes } from './transformer.ts';

export interface VisionConfig {
  width: number;
  layers: number;
  heads: number;
  patchSize: number;
  /** Grid side of the checkpoint's positional embedding (24 for ViT-L/14-336). */
  gridSize: number;
  outputDim: number;
}

export interface TextConfig {
  width: number;
  layers: number;
  heads: number;
  contextLength: number;
  vocabSize: number;
  outputDim: number;
}

export interface ClipConfig {
  vision: VisionConfig;
  text: TextConfig | null;
  embedDim: number;
}

function countLayers(sd: ClipStateDict, prefix: string): number {
  let n = 0;
  while (sd.has(`${prefix}${n}.ln_1.weight`)) n++;
  return n;
}

/** Attention heads of a tower: width // 64 (at least 1), as OpenAI's build_model and OpenCLIP, unless given. */
export function defaultHeads(width: number): number {
  return Math.max(1, Math.floor(width / 64));
}

function checkHeads(file: string, tower: string, width: number, heads: number): void {
  if (!Number.isInteger(heads) || heads < 1) throw new ClipWeightsError(file, `${tower} head count must be a positive integer, got ${heads}`);
  if (width % heads !== 0) throw new ClipWeightsError(file, `${tower} width ${width} is not divisible by ${heads} heads`);
}

/** Infers every size from tensor shapes; heads = width // 64 (at least 1) unless overridden. Checks every expected key and shape. */
export function inferClipConfig(sd: ClipStateDict, file: string, overrides: { visionHeads?: number; textHeads?: number } = {}): ClipConfig {
  const need = (k: string): number[] => {
    const t = sd.get(k);
    if (!t) throw new ClipWeightsError(file, 'missing tensor', k);
    return t.shape;
  };
  const conv = need('visual.conv1.weight');
  if (conv.length !== 4 || conv[1] !== 3 || conv[2] !== conv[3])
    throw new ClipWeightsError(file, `unexpected shape [${conv}] (want [width,3,p,p])`, 'visual.conv1.weight');
  const width = conv[0];
  const patchSize = conv[2];
  const pos = need('visual.positional_embedding');
  const gridSize = Math.round(Math.sqrt(pos[0] - 1));
  if (pos.length !== 2 || gridSize * gridSize + 1 !== pos[0] || pos[1] !== width) {
    throw new ClipWeightsError(file, `unexpected shape [${pos}] (want [grid²+1, ${width}])`, 'visual.positional_embedding');
  }
  const proj = need('visual.proj');
  const vision: VisionConfig = {
    width,
    layers: countLayers(sd, 'visual.transformer.resblocks.'),
    heads: overrides.visionHeads ?? defaultHeads(width),
    patchSize,
    gridSize,
    outputDim: proj[1],
  };
  checkHeads(file, 'vision', width, vision.heads);
  const checks: [string, number[]][] = [
    ['visual.class_embedding', [width]],
    ['visual.ln_pre.weight', [width]],
    ['visual.ln_pre.bias', [width]],
    ['visual.ln_post.weight', [width]],
    ['visual.ln_post.bias', [width]],
    ['visual.proj', [width, vision.outputDim]],
  ];
  blockShapes('visual.transformer.resblocks.', vision.layers, width, checks);
  let text: TextConfig | null = null;
  if (sd.has('token_embedding.weight')) {
    const tok = need('token_embedding.weight');
    const tw = tok[1];
    const tproj = need('text_projection');
    text = {
      width: tw,
      layers: countLayers(sd, 'transformer.resblocks.'),
      heads: overrides.textHeads ?? defaultHeads(tw),
      contextLength: need('positional_embedding')[0],
      vocabSize: tok[0],
      outputDim: tproj[1],
    };
    checks.push(
      ['positional_embedding', [text.contextLength, tw]],
      ['ln_final.weight', [tw]],
      ['ln_final.bias', [tw]],
      ['text_projection', [tw, text.outputDim]],
    );
    checkHeads(file, 'text', tw, text.heads);
    blockShapes('transformer.resblocks.', text.layers, tw, checks);
    if (text.outputDim !== vision.outputDim)
      throw new ClipWeightsError(file, `text projection width ${text.outputDim} differs from vision ${vision.outputDim}`, 'text_projection');
  }
  for (const [k, shape] of checks) {
    const got = need(k);
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) throw new ClipWeightsError(file, `shape [${got}] does not match [${shape}]`, k);
  }
  const known = new Set(checks.map(([k]) => k).concat(['visual.conv1.weight', 'visual.positional_embedding', 'token_embedding.weight', 'logit_scale']));
  for (const k of sd.keys()) if (!known.has(k)) throw new ClipWeightsError(file, 'unexpected tensor for this CLIP layout', k);
  return { vision, text, embedDim: vision.outputDim };
}

function blockShapes(prefix: string, layers: number, d: number, out: [string, number[]][]): void {
  const shapes = blockTensorShapes(d);
  for (let i = 0; i < layers; i++) {
    for (const [field, suffix] of Object.entries(BLOCK_KEYS)) out.push([`${prefix}${i}.${suffix}`, shapes[field as BlockKey]]);
  }
}
