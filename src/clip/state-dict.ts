// One model description for CLIP checkpoints in OpenAI/OpenCLIP or Hugging Face transformers naming.
import { type FileRegion } from '../graph/index.ts';
import { type HostTensor, toFloat32 } from '../io/weights/tensor.ts';
import { transposeHost } from './transformer.ts';

export class ClipWeightsError extends Error {
  /** Exit code of the command line: a usage error (the weights file given is not usable). */
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    what: string,
    readonly key?: string,
  ) {
    super(key ? `${file}: ${key}: ${what}` : `${file}: ${what}`);
    this.name = 'ClipWeightsError';
  }
}

export interface F32Tensor {
  data: Float32Array;
  shape: number[];
  /** Where the float32 bytes lie in the checkpoint file, when stored as they are (see `FileRegion`). */
  readonly file?: FileRegion;
}

/** CLIP weights under OpenAI names, float32. */
export type ClipStateDict = Map<string, F32Tensor>;

const HF_LAYER = /^(vision_model|text_model)\.encoder\.layers\.(\d+)\.(.+)$/;
const HF_BLOCK_RENAME: Record<string, string> = {
  'layer_norm1.weight': 'ln_1.weight',
  'layer_norm1.bias': 'ln_1.bias',
  'layer_norm2.weight': 'ln_2.weight',
  'layer_norm2.bias': 'ln_2.bias',
  'self_attn.out_proj.weight': 'attn.out_proj.weight',
  'self_attn.out_proj.bias': 'attn.out_proj.bias',
  'mlp.fc1.weight': 'mlp.c_fc.weight',
  'mlp.fc1.bias': 'mlp.c_fc.bias',
  'mlp.fc2.weight': 'mlp.c_proj.weight',
  'mlp.fc2.bias': 'mlp.c_proj.bias',
};
const HF_TOP_RENAME: Record<string, string> = {
  'vision_model.embeddings.patch_embedding.weight': 'visual.conv1.weight',
  'vision_model.embeddings.class_embedding': 'visual.class_embedding',
  'vision_model.embeddings.position_embedding.weight': 'visual.positional_embedding',
  'vision_model.pre_layrnorm.weight': 'visual.ln_pre.weight',
  'vision_model.pre_layrnorm.bias': 'visual.ln_pre.bias',
  'vision_model.post_layernorm.weight': 'visual.ln_post.weight',
  'vision_model.post_layernorm.bias': 'visual.ln_post.bias',
  'text_model.embeddings.token_embedding.weight': 'token_embedding.weight',
  'text_model.embeddings.position_embedding.weight': 'positional_embedding',
  'text_model.final_layer_norm.weight': 'ln_final.weight',
  'text_model.final_layer_norm.bias': 'ln_final.bias',
  logit_scale: 'logit_scale',
};
/** Buffers that carry no weights. */
const IGNORED = [/position_ids$/, /^attn_mask$/, /^visual\.attnpool\./, /\.num_batches_tracked$/];

function transpose2d(t: F32Tensor): F32Tensor {
  const [r, c] = t.shape;
  return { data: transposeHost(t.data, r, c), shape: [c, r] };
}

function concat0(ts: F32Tensor[]): F32Tensor {
  const n = ts.reduce((s, t) => s + t.data.length, 0);
  const data = new Float32Array(n);
  let off = 0;
  for (const t of ts) {
    data.set(t.data, off);
    off += t.data.length;
  }
  return { data, shape: [ts.reduce((s, t) => s + t.shape[0], 0), ...ts[0].shape.slice(1)] };
}

/** Strips common wrappers (`module.`, `model.`, `state_dict` nesting is handled by the file readers). */
function stripPrefix(keys: string[]): string {
  for (const p of ['module.', 'model.', 'clip.']) {
    if (keys.length > 0 && keys.every((k) => k.startsWith(p))) return p;
  }
  return '';
}

/**
 * Maps a raw checkpoint (OpenAI/OpenCLIP or Hugging Face names, any float dtype) to OpenAI names in float32.
 * Unknown keys are an error naming the key, so that a wrong file is caught before any compute.
 */
export function normalizeStateDict(raw: Map<string, HostTensor>, file: string): ClipStateDict {
  const prefix = stripPrefix([...raw.keys()]);
  const f32 = (k: string): F32Tensor => {
    const t = raw.get(k)!;
    if (!['float32', 'float16', 'bfloat16', 'float64'].includes(t.dtype))
      throw new ClipWeightsError(file, `expected a floating-point tensor, got ${t.dtype}`, k);
    // float32 tensors located in a file stay unread: graphs that own their weights read them from the file.
    if (t.dtype === 'float32' && t.file)
      return {
        shape: [...t.shape],
        file: t.file,
        get data() {
          return t.data as Float32Array;
        },
      };
    return { data: toFloat32(t), shape: [...t.shape] };
  };
  const out: ClipStateDict = new Map();
  const isHf = [...raw.keys()].some((k) => k.startsWith(`${prefix}vision_model.`) || k.startsWith(`${prefix}text_model.`));
  if (!isHf) {
    for (const k of raw.keys()) {
      const name = k.slice(prefix.length);
      if (IGNORED.some((r) => r.test(name))) continue;
      out.set(name, f32(k));
    }
    return out;
  }
  const qkv = new Map<string, Partial<Record<'q' | 'k' | 'v', { w?: F32Tensor; b?: F32Tensor }>>>();
  for (const k of raw.keys()) {
    const name = k.slice(prefix.length);
    if (IGNORED.some((r) => r.test(name))) continue;
    if (HF_TOP_RENAME[name]) {
      const t = f32(k);
      if (name === 'vision_model.embeddings.class_embedding') t.shape = [t.data.length];
      out.set(HF_TOP_RENAME[name], t);
      continue;
    }
    if (name === 'visual_projection.weight') {
      out.set('visual.proj', transpose2d(f32(k)));
      continue;
    }
    if (name === 'text_projection.weight') {
      out.set('text_projection', transpose2d(f32(k)));
      continue;
    }
    const m = HF_LAYER.exec(name);
    if (!m) throw new ClipWeightsError(file, 'unexpected key for a CLIP checkpoint', k);
    const base = `${m[1] === 'vision_model' ? 'visual.transformer' : 'transformer'}.resblocks.${m[2]}.`;
    const rest = m[3];
    const qm = /^self_attn\.([qkv])_proj\.(weight|bias)$/.exec(rest);
    if (qm) {
      const entry = qkv.get(base) ?? {};
      const part = (entry[qm[1] as 'q' | 'k' | 'v'] ??= {});
      if (qm[2] === 'weight') part.w = f32(k);
      else part.b = f32(k);
      qkv.set(base, entry);
      continue;
    }
    if (!HF_BLOCK_RENAME[rest]) throw new ClipWeightsError(file, 'unexpected key for a CLIP checkpoint', k);
    out.set(base + HF_BLOCK_RENAME[rest], f32(k));
  }
  for (const [base, e] of qkv) {
    const parts = (['q', 'k', 'v'] as const).map((p) => e[p]);
    parts.forEach((p, i) => {
      if (!p?.w || !p.b) throw new ClipWeightsError(file, `missing ${'qkv'[i]}_proj weight or bias`, base);
    });
    out.set(`${base}attn.in_proj_weight`, concat0(parts.map((p) => p!.w!)));
    out.set(`${base}attn.in_proj_bias`, concat0(parts.map((p) => p!.b!)));
  }
  return out;
}
