// Known CLIP weight files on the Hugging Face hub, as data, and the one call that yields a local path for them.
import { fileSize, findCachedFile, hubCacheDir, type HubEnv } from './cache.ts';
import { hubDownload, type HubDownloadOptions } from './download.ts';
import { HubError } from './errors.ts';

/** Tensor naming inside the file: OpenAI/OpenCLIP (`visual.transformer.resblocks.*`) or transformers (`vision_model.*`). */
export type WeightNaming = 'open_clip' | 'transformers';

export interface KnownModel {
  /** Hub repository id. */
  repo: string;
  /** File inside the repository. */
  filename: string;
  /** Pinned revision: a commit id where known, so a cached file is found with no request and bytes never drift. */
  revision: string;
  /** SHA-256 of the file (its LFS oid), when published. */
  sha256?: string;
  /** Size in bytes, when published. */
  size?: number;
  naming: WeightNaming;
  /** What the file holds. */
  description: string;
}

/**
 * OpenAI CLIP ViT-L/14 at 336 px, both towers, fp32 safetensors.
 *
 * `ViT-L-14-336` is the OpenCLIP export kept by timm (the file open_clip itself loads for `ViT-L-14-336/openai`).
 * `ViT-L-14-336-hf` is the transformers-named conversion; the official `openai/clip-vit-large-patch14-336` repository
 * has it only on the conversion pull request `refs/pr/8` (its main branch holds `pytorch_model.bin` and
 * `tf_model.h5` only), so the first entry is the default.
 */
export const KNOWN_MODELS: Readonly<Record<string, KnownModel>> = Object.freeze({
  'ViT-L-14-336': {
    repo: 'timm/vit_large_patch14_clip_336.openai',
    filename: 'open_clip_model.safetensors',
    revision: '81e38efc4637de5023b10e75a7f9bd1c6fa6b010',
    sha256: 'fbc415c3d0d7b79faed8f5ccfb740c32b7c4f5ffe7283b851f89c6231c01a8e0',
    size: 1_711_828_444,
    naming: 'open_clip',
    description: 'OpenAI CLIP ViT-L/14@336px, text and vision towers, OpenCLIP names, float32',
  },
  'ViT-L-14-336-hf': {
    repo: 'openai/clip-vit-large-patch14-336',
    filename: 'model.safetensors',
    revision: 'refs/pr/8',
    sha256: 'f51cb7b04a2afb04828b1b8e0edc34bbf082080d098b9874f5756e7b7ba8c807',
    naming: 'transformers',
    description: 'OpenAI CLIP ViT-L/14@336px, text and vision towers, transformers names, float32',
  },
});

/** Other spellings of the registry names (OpenAI's own, open_clip's). */
export const MODEL_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  'ViT-L/14@336px': 'ViT-L-14-336',
  'ViT-L-14-336px': 'ViT-L-14-336',
  'openai/clip-vit-large-patch14-336': 'ViT-L-14-336-hf',
});

export const DEFAULT_CLIP_MODEL = 'ViT-L-14-336';

export type ResolveClipOptions = Omit<HubDownloadOptions, 'repo' | 'filename' | 'revision' | 'expectedSha256' | 'expectedSize'> & {
  /** Registry to look the name up in. Default `KNOWN_MODELS`. */
  registry?: Readonly<Record<string, KnownModel>>;
};

/** The registry entry for a model name or alias; throws naming the known models when there is none. */
export function knownModel(name: string, registry: Readonly<Record<string, KnownModel>> = KNOWN_MODELS): KnownModel {
  const key = Object.hasOwn(registry, name) ? name : MODEL_ALIASES[name];
  const model = key !== undefined && Object.hasOwn(registry, key) ? registry[key] : undefined;
  if (model === undefined) {
    throw new HubError('ARGUMENT', `unknown CLIP model ${JSON.stringify(name)}; known: ${Object.keys(registry).join(', ')}`);
  }
  return model;
}

/**
 * Local path of a model's weights: the cached file (no request when the revision is a commit id), else a verified
 * download into the hub cache. Offline without the file, the error names the URL and the path to save it as.
 */
export async function resolveClipWeights(modelName: string = DEFAULT_CLIP_MODEL, opts: ResolveClipOptions = {}): Promise<string> {
  const { registry, ...rest } = opts;
  const model = knownModel(modelName, registry);
  return hubDownload({
    ...rest,
    repo: model.repo,
    filename: model.filename,
    revision: model.revision,
    expectedSha256: model.sha256,
    expectedSize: model.size,
  });
}

export interface CachedClipOptions {
  cacheDir?: string;
  env?: HubEnv;
  registry?: Readonly<Record<string, KnownModel>>;
}

/**
 * A cached weights file, looked up without any request: the named model, or with no name the default model and
 * then the other registry entries in order. A file of the wrong size is passed over. Null when none is cached.
 */
export async function cachedClipWeights(modelName?: string, opts: CachedClipOptions = {}): Promise<string | null> {
  const registry = opts.registry ?? KNOWN_MODELS;
  const cacheDir = opts.cacheDir ?? hubCacheDir(opts.env ?? process.env);
  const candidates =
    modelName !== undefined
      ? [knownModel(modelName, registry)]
      : [
          ...(Object.hasOwn(registry, DEFAULT_CLIP_MODEL) ? [registry[DEFAULT_CLIP_MODEL]] : []),
          ...Object.entries(registry)
            .filter(([k]) => k !== DEFAULT_CLIP_MODEL)
            .map(([, m]) => m),
        ];
  for (const m of candidates) {
    const path = await findCachedFile(cacheDir, m.repo, m.filename, m.revision);
    if (path !== undefined && (m.size === undefined || (await fileSize(path)) === m.size)) return path;
  }
  return null;
}
