// OpenAI-named CLIP tensors → Hugging Face transformers CLIPModel names (q/k/v split, projections as Linear weights),
// as clip_ref.py's to_hf: lets the loader tests write the HF layout of the seeded tiny CLIP themselves.
import { type HostTensor } from '../../src/io/weights/tensor.ts';

const TOP: Record<string, string> = {
  'visual.conv1.weight': 'vision_model.embeddings.patch_embedding.weight',
  'visual.class_embedding': 'vision_model.embeddings.class_embedding',
  'visual.positional_embedding': 'vision_model.embeddings.position_embedding.weight',
  'visual.ln_pre.weight': 'vision_model.pre_layrnorm.weight',
  'visual.ln_pre.bias': 'vision_model.pre_layrnorm.bias',
  'visual.ln_post.weight': 'vision_model.post_layernorm.weight',
  'visual.ln_post.bias': 'vision_model.post_layernorm.bias',
  'token_embedding.weight': 'text_model.embeddings.token_embedding.weight',
  positional_embedding: 'text_model.embeddings.position_embedding.weight',
  'ln_final.weight': 'text_model.final_layer_norm.weight',
  'ln_final.bias': 'text_model.final_layer_norm.bias',
  logit_scale: 'logit_scale',
};
const BLOCK: Record<string, string> = {
  ln_1: 'layer_norm1',
  ln_2: 'layer_norm2',
  'attn.out_proj': 'self_attn.out_proj',
  'mlp.c_fc': 'mlp.fc1',
  'mlp.c_proj': 'mlp.fc2',
};

function transposed(t: HostTensor): HostTensor {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = (t.data as Float32Array)[i * c + j];
  return { dtype: 'float32', shape: [c, r], data: out };
}

export function toHfNames(sd: Map<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of sd) {
    const m = /^(visual\.transformer|transformer)\.resblocks\.(\d+)\.(.+)$/.exec(k);
    if (m) {
      const base = `${m[1] === 'visual.transformer' ? 'vision_model' : 'text_model'}.encoder.layers.${m[2]}.`;
      const qkv = /^attn\.in_proj_(weight|bias)$/.exec(m[3]);
      if (qkv) {
        const n = v.shape[0] / 3;
        const per = v.data.length / 3;
        ['q', 'k', 'v'].forEach((p, i) =>
          out.set(`${base}self_attn.${p}_proj.${qkv[1]}`, {
            dtype: 'float32',
            shape: [n, ...v.shape.slice(1)],
            data: (v.data as Float32Array).slice(i * per, (i + 1) * per),
          }),
        );
        continue;
      }
      const part = Object.keys(BLOCK).find((a) => m[3].startsWith(`${a}.`));
      if (!part) throw new Error(`no HF name for ${k}`);
      out.set(base + BLOCK[part] + m[3].slice(part.length), v);
    } else if (TOP[k]) out.set(TOP[k], v);
    else if (k === 'visual.proj') out.set('visual_projection.weight', transposed(v));
    else if (k === 'text_projection') out.set('text_projection.weight', transposed(v));
    else throw new Error(`no HF name for ${k}`);
  }
  const ctx = sd.get('positional_embedding')!.shape[0];
  out.set('text_model.embeddings.position_ids', { dtype: 'float32', shape: [1, ctx], data: Float32Array.from({ length: ctx }, (_, i) => i) });
  return out;
}
