// Finding CLIP weights already downloaded into the model cache.
import { cachedClipWeights } from '../hub/models.ts';

export async function findCachedClip(): Promise<string | null> {
  return cachedClipWeights();
}
