// Loading what commands need: CLIP weights (given or cached), text features, adapters, images.
import { existsSync } from 'node:fs';
import { loadClip } from '../clip/factory.ts';
import { type ClipModel } from '../clip/model.ts';
import { type Activation } from '../clip/transformer.ts';
import { loadImageTensor } from '../io/image.ts';
import { findCachedClip } from './weights-cache.ts';
import { UsageError, log } from './common.ts';

export interface ClipOpts {
  clip?: string;
  activation?: string;
  quiet?: boolean;
}

export async function resolveClipPath(o: ClipOpts): Promise<string> {
  if (o.clip) {
    if (!existsSync(o.clip)) throw new UsageError(`--clip ${o.clip}: no such file`);
    return o.clip;
  }
  const cached = await findCachedClip();
  if (cached) return cached;
  throw new UsageError('no CLIP weights: pass --clip PATH, or run `mvfa download` first');
}

/** The --activation value, checked. */
export function checkActivation(v: string | undefined): Activation {
  const act = v ?? 'gelu';
  if (act !== 'gelu' && act !== 'quickgelu') throw new UsageError(`--activation must be gelu or quickgelu, got '${v}'`);
  return act;
}

export async function openClip(o: ClipOpts): Promise<{ clip: ClipModel; path: string }> {
  const path = await resolveClipPath(o);
  const act = checkActivation(o.activation);
  const t0 = Date.now();
  const clip = await loadClip(path, { activation: act });
  log(
    o.quiet,
    `loaded CLIP ${path} (vision ${clip.config.vision.width}×${clip.config.vision.layers}, patch ${clip.config.vision.patchSize}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { clip, path };
}

export async function imageTensor(path: string, size: number): Promise<Float32Array> {
  return (await loadImageTensor(path, { size })).tensor;
}
