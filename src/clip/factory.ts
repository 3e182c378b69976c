// Loading a CLIP from a weight file in any supported format and naming.
import { loadWeights } from '../io/weights.ts';
import { type ClipOptions, ClipModel } from './model.ts';
import { normalizeStateDict } from './state-dict.ts';

/** Reads safetensors, PyTorch zip / TorchScript / legacy files with OpenAI, OpenCLIP or Hugging Face names. */
export async function loadClip(path: string, options: ClipOptions = {}): Promise<ClipModel> {
  const raw = await loadWeights(path);
  return new ClipModel(normalizeStateDict(raw, path), path, options);
}
