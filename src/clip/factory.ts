// Loading a CLIP from a weight file in any supported format and naming.
import { loadWeights } from '../io/weights.ts';
import { type ClipOptions, ClipModel } from './model.ts';
import { normalizeStateDict } from './state-dict.ts';

export interface LoadClipOptions extends ClipOptions {
  /**
   * Attention heads of both towers, for non-standard models; `visionHeads`/`textHeads` override it per tower.
   * Default: width // 64 (at least 1), as OpenAI's build_model and OpenCLIP.
   */
  heads?: number;
}

/** Reads safetensors, PyTorch zip / TorchScript / legacy files with OpenAI, OpenCLIP or Hugging Face names. */
export async function loadClip(path: string, options: LoadClipOptions = {}): Promise<ClipModel> {
  const raw = await loadWeights(path);
  const { heads, ...rest } = options;
  const opts: ClipOptions = { ...rest, visionHeads: rest.visionHeads ?? heads, textHeads: rest.textHeads ?? heads };
  return new ClipModel(normalizeStateDict(raw, path), path, opts);
}
