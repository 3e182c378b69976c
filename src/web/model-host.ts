// The model the server holds: CLIP weights and adapters chosen only from the files named when the server was
// started, or adapters trained from uploads; predictions and training run through the single worker queue.
import { resolve } from 'node:path';
import { loadClip } from '../clip/factory.ts';
import { type ClipModel } from '../clip/model.ts';
import { cachedTextFeatures } from '../clip/text-features.ts';
import { type Activation } from '../clip/transformer.ts';
import { type AugmentMode, augmentSupport, listImages } from '../data/training-set.ts';
import { loadImageTensor } from '../io/image.ts';
import { type AdapterSet } from '../mvfa/adapters.ts';
import { type Calibration, fuseCalibrated, mean } from '../mvfa/fusion.ts';
import { loadAdapters } from '../mvfa/checkpoint.ts';
import { Mvfa } from '../mvfa/mvfa.ts';
import { HttpError } from './http.ts';
import { decodeUpload, overlayPng, rasterTensor } from './imaging.ts';
import { type PredictionResult, newResultId } from './results.ts';
import { type ImageKind } from './sniff.ts';
import { type TrainingOutcome } from './training.ts';

export interface ModelHostOptions {
  /** CLIP weight files that may be loaded (the first one is loaded at start). */
  clipPaths: readonly string[];
  /** Adapter files that may be loaded (the first one is loaded at start). */
  adapterPaths: readonly string[];
  organ?: string;
  /** Folder of normal images for the few-shot memory bank of adapters loaded from files. */
  supportDir?: string;
  supportAugment?: AugmentMode;
  imageSize?: number;
  levels?: readonly number[];
  activation?: Activation;
  /** Folder for cached text features. */
  cacheDir: string;
  /** Most organ names requests may add while the server runs (each writes a text-features file). Default 16. */
  maxOrgans?: number;
  log?: (msg: string) => void;
}

interface Active {
  adapters: AdapterSet;
  calibration: Calibration | null;
  organ: string;
  imageSize: number;
  /** Adapters file, or 'trained in this session'. */
  source: string;
  model: Mvfa;
  /** Input tensors of the memory bank (kept to rebuild it for other CLIP weights). */
  supportInputs: Float32Array[] | null;
}

export interface ModelStatus {
  /** Images can be scored now. */
  ready: boolean;
  clip: string | null;
  adapters: string | null;
  organ: string | null;
  levels: number[] | null;
  image_size: number | null;
  /** Scores are calibrated (about 0 to 1). */
  calibration: boolean;
  task: string | null;
  support_images: number;
  /** Files that POST /api/model accepts. */
  choices: { clip: string[]; adapters: string[] };
  /** What to do next, in plain words. */
  message: string;
}

export const TRAINED = 'trained in this session';

/** Organ names go into the text prompts: plain text, bounded. */
export function checkOrgan(v: unknown): string {
  if (typeof v !== 'string' || !v.trim()) throw new HttpError(400, 'an organ or body part name is needed (for example "breast ultrasound", "Brain", "Liver")');
  const s = v.trim();
  if (s.length > 80 || /[\u0000-\u001f\u007f<>]/.test(s)) throw new HttpError(400, 'the organ name must be plain text of at most 80 characters');
  return s;
}

/** Adapter blocks for a CLIP of `layers` blocks: the quarters (6,12,18,24 for ViT-L/14). */
export function defaultLevels(layers: number): number[] {
  return [...new Set([1, 2, 3, 4].map((q) => Math.max(1, Math.round((q * layers) / 4))))];
}

export class ModelHost {
  private clip: ClipModel | null = null;
  private clipPath: string | null = null;
  private active: Active | null = null;
  private readonly allowedClip: Map<string, string>;
  private readonly allowedAdapters: Map<string, string>;
  /** Organ names whose text features were made or promised in this run. */
  private readonly organs = new Set<string>();
  private requestedOrgans = 0;

  constructor(readonly opts: ModelHostOptions) {
    this.allowedClip = new Map(opts.clipPaths.map((p) => [resolve(p), p]));
    this.allowedAdapters = new Map(opts.adapterPaths.map((p) => [resolve(p), p]));
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }

  /** The allowed file for a requested path, or 403. */
  allowed(kind: 'clip' | 'adapters', requested: unknown): string {
    if (typeof requested !== 'string' || !requested) throw new HttpError(400, `'${kind}' must be a file path string`);
    const list = kind === 'clip' ? this.allowedClip : this.allowedAdapters;
    const p = list.get(resolve(requested));
    if (p === undefined) {
      throw new HttpError(
        403,
        `${kind === 'clip' ? 'CLIP weights' : 'adapters'} can only be loaded from the files given on the command line when the server was started (${list.size ? [...list.values()].join(', ') : 'none were given'})`,
      );
    }
    return p;
  }

  get ready(): boolean {
    return this.active !== null;
  }

  get organ(): string | null {
    return this.active?.organ ?? this.opts.organ ?? null;
  }

  /** Loads what was given on the command line: the first CLIP and the first adapters file. */
  async init(): Promise<void> {
    const clip = this.opts.clipPaths[0];
    const adapters = this.opts.adapterPaths[0];
    if (clip) await this.load({ clip, adapters, organ: this.opts.organ });
  }

  /**
   * Admits an organ name from a request: names already in use are free, new ones are bounded (each new name costs a
   * text-encoder run and a file in the cache), so a client cannot fill the disk by inventing names.
   */
  admitOrgan(organ: string): void {
    if (this.organs.has(organ)) return;
    const limit = this.opts.maxOrgans ?? 16;
    if (this.requestedOrgans >= limit) {
      throw new HttpError(
        429,
        `this server has already prepared ${limit} other organ names; use one of them (${[...this.organs].slice(0, 20).join(', ')}) or restart the server`,
      );
    }
    this.requestedOrgans++;
    this.organs.add(organ);
  }

  private async textFor(organ: string): Promise<Float32Array> {
    this.organs.add(organ);
    return cachedTextFeatures(this.clip!, this.clipPath!, organ, this.opts.cacheDir);
  }

  /** Changes CLIP weights, adapters and/or organ (paths already checked with `allowed`). Runs in the worker. */
  async load(req: { clip?: string; adapters?: string; organ?: string }): Promise<void> {
    const prev = this.active;
    const clipChanged = !!req.clip && req.clip !== this.clipPath;
    if (clipChanged) {
      const t0 = Date.now();
      const clip = await loadClip(req.clip!, { activation: this.opts.activation ?? 'gelu' });
      await this.releaseActive();
      await this.clip?.release();
      this.clip = clip;
      this.clipPath = req.clip!;
      this.log(`loaded CLIP ${req.clip} (vision ${clip.config.vision.width}×${clip.config.vision.layers}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (!this.clip) throw new HttpError(409, 'no CLIP weights are loaded: choose a CLIP weights file first');
    if (req.adapters) {
      const ck = await loadAdapters(req.adapters, this.opts.levels);
      const organ = req.organ ?? this.opts.organ ?? ck.info.organ;
      if (!organ) throw new HttpError(400, `${req.adapters} does not say which organ it was trained for: give an organ name`);
      const size = this.opts.imageSize ?? (ck.info.imageSize ? Number(ck.info.imageSize) : 240);
      await this.activate(ck.adapters, ck.calibration ?? null, checkOrgan(organ), size, req.adapters, undefined);
    } else if (prev && (req.organ || clipChanged)) {
      const support = prev.source === TRAINED ? prev.supportInputs : undefined;
      await this.activate(prev.adapters, prev.calibration, checkOrgan(req.organ ?? prev.organ), prev.imageSize, prev.source, support);
    }
  }

  /**
   * Builds the model for adapters; support: images for the memory bank, or undefined for the --support folder,
   * or null for none.
   */
  private async activate(
    adapters: AdapterSet,
    calibration: Calibration | null,
    organ: string,
    imageSize: number,
    source: string,
    support: Float32Array[] | null | undefined,
  ): Promise<void> {
    const text = await this.textFor(organ);
    const model = new Mvfa(this.clip!, adapters, text, calibration, { imageSize });
    let images = support ?? null;
    if (support === undefined && this.opts.supportDir) {
      const files = listImages(this.opts.supportDir, 'support');
      const raw = await Promise.all(files.map(async (p) => (await loadImageTensor(p, { size: imageSize })).tensor));
      images = augmentSupport(raw, imageSize, this.opts.supportAugment ?? 'mvfa');
    }
    try {
      if (images?.length) await model.setSupport(images);
      else await model.warmup();
    } catch (e) {
      await model.release();
      throw e;
    }
    await this.releaseActive();
    this.active = { adapters, calibration, organ, imageSize, source, model, supportInputs: images };
    this.log(
      `model ready: adapters ${source}, organ '${organ}', image size ${imageSize}, ${calibration ? 'calibrated' : 'no calibration'}, ${images?.length ?? 0} memory-bank images`,
    );
  }

  private async releaseActive(): Promise<void> {
    const a = this.active;
    this.active = null;
    if (a) await a.model.release();
  }

  /** Settings for training with the current CLIP. */
  trainingDefaults(): { levels: number[]; imageSize: number } {
    if (!this.clip) throw new HttpError(409, 'no CLIP weights are loaded: start the server with --clip, or choose CLIP weights first');
    const levels = this.opts.levels ? [...this.opts.levels] : this.active ? [...this.active.adapters.levels] : defaultLevels(this.clip.config.vision.layers);
    const imageSize = this.opts.imageSize ?? this.active?.imageSize ?? 240;
    return { levels, imageSize };
  }

  /** Runs training with the loaded CLIP (in the worker) and switches to the new adapters. */
  async train(organ: string, run: (clip: ClipModel, text: Float32Array) => Promise<TrainingOutcome>): Promise<TrainingOutcome> {
    if (!this.clip) throw new HttpError(409, 'no CLIP weights are loaded');
    const out = await run(this.clip, await this.textFor(organ));
    const ck = out.checkpoint;
    await this.activate(ck.adapters, ck.calibration ?? null, organ, Number(ck.info.imageSize), TRAINED, out.support);
    return out;
  }

  /** Scores one uploaded image (in the worker): result and overlay PNG. */
  async predict(name: string, kind: ImageKind, data: Uint8Array): Promise<{ result: PredictionResult; png: Buffer }> {
    const a = this.active;
    if (!a) throw new HttpError(409, this.status().message);
    const t0 = performance.now();
    const rgb = await decodeUpload(name, kind, data);
    const raw = await a.model.analyze(rasterTensor(rgb, a.imageSize));
    let score: number | null = null;
    let map = raw.zeroSeg;
    if (a.calibration) {
      const fused = fuseCalibrated(raw, a.calibration);
      score = fused.score;
      map = fused.map;
    }
    const png = await overlayPng(rgb, map, a.calibration !== null);
    const result: PredictionResult = {
      id: newResultId(),
      name,
      score,
      zero_det: raw.zeroDet,
      few_det: raw.fewDet ? mean(raw.fewDet) : null,
      width: rgb.width,
      height: rgb.height,
      organ: a.organ,
      adapters: a.source,
      seconds: (performance.now() - t0) / 1000,
      created: new Date().toISOString(),
    };
    return { result, png };
  }

  status(): ModelStatus {
    const a = this.active;
    let message: string;
    if (!this.clip) message = 'No model is loaded. Start the server with --clip (CLIP weights) and --adapters, or choose files below.';
    else if (!a) message = 'CLIP weights are loaded but no adapters: train on a few of your images below, or choose an adapters file.';
    else if (!a.calibration) message = 'Ready. These adapters carry no calibration, so only the raw zero-shot score is shown.';
    else message = 'Ready: drop images to get an anomaly score and a heatmap.';
    return {
      ready: a !== null,
      clip: this.clipPath,
      adapters: a?.source ?? null,
      organ: this.organ,
      levels: a ? [...a.adapters.levels] : null,
      image_size: a?.imageSize ?? this.opts.imageSize ?? null,
      calibration: a?.calibration != null,
      task: a?.calibration?.task ?? null,
      support_images: a?.supportInputs?.length ?? 0,
      choices: { clip: [...this.allowedClip.values()], adapters: [...this.allowedAdapters.values()] },
      message,
    };
  }

  async close(): Promise<void> {
    await this.releaseActive();
    await this.clip?.release();
    this.clip = null;
  }
}
