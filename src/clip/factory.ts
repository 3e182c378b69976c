// Loading a CLIP from a weight file in any supported format and naming.
import { loadWeights } from '../io/weights/weights.ts';
import { type ClipOptions, ClipModel } from './model.ts';
import { normalizeStateDict } from './state-dict.ts';

export interface LoadClipOptions extends ClipOptions {
  /**
   * Attention heads of both towers, for non-standard models; `visionHeads`/`textHeads` override it per tower.
   * Default: width // 64 (at least 1), as OpenAI's build_model and OpenCLIP.
   */
  heads?: number;
}

let processHeads: { visionHeads?: number; textHeads?: number } = {};

/** Head counts for every later loadClip call that gives none (the CLI's --vision-heads / --text-heads). */
export function configureClipHeads(h: { visionHeads?: number; textHeads?: number }): void {
  processHeads = { visionHeads: h.visionHeads, textHeads: h.textHeads };
}

/** Reads safetensors, PyTorch zip / TorchScript / legacy files with OpenAI, OpenCLIP or Hugging Face names. */
export async function loadClip(path: string, options: LoadClipOptions = {}): Promise<ClipModel> {
  const raw = await loadWeights(path, { locate: true });
  const { heads, ...rest } = options;
  const opts: ClipOptions = {
    ...rest,
    visionHeads: rest.visionHeads ?? heads ?? processHeads.visionHeads,
    textHeads: rest.textHeads ?? heads ?? processHeads.textHeads,
  };
  return new ClipModel(normalizeStateDict(raw, path), path, opts);
}
