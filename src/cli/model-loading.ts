// Loading what commands need: CLIP weights (given or cached) in an Engine, images.
import { type Command } from 'commander';
import { existsSync } from 'node:fs';
import { type ClipModel } from '../clip/model.ts';
import { type Activation } from '../clip/transformer.ts';
import { loadImageTensor } from '../io/image/image.ts';
import { findCachedClip } from './weights-cache.ts';
import { Engine } from '../engine/engine.ts';
import { MVFA_DEFAULTS } from '../mvfa/defaults.ts';
import { UsageError, cacheDir, log, parseIntOpt, parseLevels } from './common.ts';

/** The options of commands that score with stored adapters (predict, queue submit): prompts, memory bank, input. */
export function modelOptions(cmd: Command): Command {
  return cmd
    .option('--organ <name>', 'organ name for the prompts (default: the one stored with the adapters)')
    .option('--support <dir>', 'folder of normal images for the few-shot memory bank')
    .option('--support-augment <none|mvfa>', 'expand the support images ×11 as the official code', 'mvfa')
    .option('--levels <list>', 'adapter blocks, for adapter files that do not store them', parseLevels)
    .option('--image-size <n>', `model input size (default: stored with the adapters, else ${MVFA_DEFAULTS.imageSize})`, parseIntOpt('--image-size', 14));
}

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

/** An Engine over the CLIP weights the options name (or the downloaded ones); sessions follow the global options. */
export async function openEngine(o: ClipOpts): Promise<Engine> {
  return Engine.open(await resolveClipPath(o), { activation: checkActivation(o.activation), cacheDir: cacheDir(), log: (m) => log(o.quiet, m) });
}

/** CLIP weights alone, for commands that need no adapters (the caller releases them). */
export async function openClip(o: ClipOpts): Promise<{ clip: ClipModel; path: string }> {
  const { clip } = await openEngine(o);
  return { clip, path: clip.source };
}

export async function imageTensor(path: string, size: number): Promise<Float32Array> {
  return (await loadImageTensor(path, { size })).tensor;
}
