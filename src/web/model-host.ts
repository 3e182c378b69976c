// The model the server holds: CLIP weights and adapters chosen only from the files named when the server was
// started, or adapters trained from uploads; predictions and training run through the single worker queue.
import { resolve } from 'node:path';
import { type ClipModel } from '../clip/model.ts';
import { type Activation } from '../clip/transformer.ts';
import { type AugmentMode } from '../data/training-set.ts';
import { Engine, EngineUsageError, type SupportSpec } from '../engine/engine.ts';
import { type AdapterCheckpoint, loadAdapters } from '../mvfa/checkpoint.ts';
import { MVFA_DEFAULTS, defaultLevels } from '../mvfa/defaults.ts';
import { describeRule, mean } from '../mvfa/fusion.ts';
import { HttpError } from './http.ts';
import { decodeUpload, overlayPng } from './imaging.ts';
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
  checkpoint: AdapterCheckpoint;
  organ: string;
  imageSize: number;
  /** Adapters file, or 'trained in this session'. */
  source: string;
  /** Input tensors of the memory bank given with trained adapters (kept to rebuild it for other CLIP weights). */
  supportInputs: Float32Array[] | null;
  supportImages: number;
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

export { defaultLevels };

export class ModelHost {
  /** Owns the CLIP weights and the model in use; scores through the one prediction path. */
  private engine: Engine | null = null;
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
    return this.engine!.textFeatures(organ);
  }

  /** Changes CLIP weights, adapters and/or organ (paths already checked with `allowed`). Runs in the worker. */
  async load(req: { clip?: string; adapters?: string; organ?: string }): Promise<void> {
    const prev = this.active;
    const clipChanged = !!req.clip && req.clip !== this.clipPath;
    if (clipChanged) {
      const engine = await Engine.open(req.clip!, { activation: this.opts.activation ?? 'gelu', cacheDir: this.opts.cacheDir, log: (m) => this.log(m) });
      this.active = null;
      await this.engine?.release();
      this.engine = engine;
      this.clipPath = req.clip!;
    }
    if (!this.engine) throw new HttpError(409, 'no CLIP weights are loaded: choose a CLIP weights file first');
    if (req.adapters) {
      const ck = await loadAdapters(req.adapters, this.opts.levels, this.engine.clip.config.vision.layers);
      const organ = req.organ ?? this.opts.organ ?? ck.info.organ;
      if (!organ) throw new HttpError(400, `${req.adapters} does not say which organ it was trained for: give an organ name`);
      await this.activate(ck, checkOrgan(organ), req.adapters, undefined);
    } else if (prev && (req.organ || clipChanged)) {
      const support = prev.source === TRAINED ? prev.supportInputs : undefined;
      await this.activate(prev.checkpoint, checkOrgan(req.organ ?? prev.organ), prev.source, support);
    }
  }

  /**
   * Makes adapters the model in use; support: images for the memory bank, or undefined for the --support folder,
   * or null for none.
   */
  private async activate(checkpoint: AdapterCheckpoint, organ: string, source: string, support: Float32Array[] | null | undefined): Promise<void> {
    const engine = this.engine!;
    const spec: SupportSpec | null =
      support === undefined
        ? this.opts.supportDir
          ? { dir: this.opts.supportDir, augment: this.opts.supportAugment ?? MVFA_DEFAULTS.augment }
          : null
        : support;
    let model;
    try {
      await this.textFor(organ);
      model = await engine.load({ adapters: checkpoint, organ, imageSize: this.opts.imageSize, support: spec });
    } catch (e) {
      if (e instanceof EngineUsageError) throw new HttpError(400, e.message);
      throw e;
    }
    const imageSize = model.imageSize;
    this.active = { checkpoint, organ, imageSize, source, supportInputs: Array.isArray(spec) ? spec : null, supportImages: engine.supportImages };
    this.log(
      `model ready: adapters ${source}, organ '${organ}', image size ${imageSize}, ${model.calibration ? 'calibrated' : 'no calibration'}, ${engine.supportImages} memory-bank images`,
    );
  }

  /** Settings for training with the current CLIP. */
  trainingDefaults(): { levels: number[]; imageSize: number } {
    if (!this.engine) throw new HttpError(409, 'no CLIP weights are loaded: start the server with --clip, or choose CLIP weights first');
    const levels = this.opts.levels
      ? [...this.opts.levels]
      : this.active
        ? [...this.active.checkpoint.adapters.levels]
        : defaultLevels(this.engine.clip.config.vision.layers);
    const imageSize = this.opts.imageSize ?? this.active?.imageSize ?? MVFA_DEFAULTS.imageSize;
    return { levels, imageSize };
  }

  /** Runs training with the loaded CLIP (in the worker) and switches to the new adapters. */
  async train(organ: string, run: (clip: ClipModel, text: Float32Array) => Promise<TrainingOutcome>): Promise<TrainingOutcome> {
    if (!this.engine) throw new HttpError(409, 'no CLIP weights are loaded');
    const out = await run(this.engine.clip, await this.textFor(organ));
    await this.activate(out.checkpoint, organ, TRAINED, out.support);
    return out;
  }

  /** Scores one uploaded image (in the worker) through the engine's prediction path: result and overlay PNG. */
  async predict(name: string, kind: ImageKind, data: Uint8Array): Promise<{ result: PredictionResult; png: Buffer }> {
    const a = this.active;
    if (!a || !this.engine) throw new HttpError(409, this.status().message);
    const t0 = performance.now();
    const rgb = await decodeUpload(name, kind, data);
    const p = await this.engine.predict(rgb);
    // Both rules give maps of about 0..1: one fixed colour scale.
    const png = await overlayPng(rgb, p.map, true);
    const result: PredictionResult = {
      id: newResultId(),
      name,
      score: p.score,
      zero_det: p.raw.zeroDet,
      few_det: p.raw.fewDet ? mean(p.raw.fewDet) : null,
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
    const calibration = a?.checkpoint.calibration ?? null;
    if (!this.engine) message = 'No model is loaded. Start the server with --clip (CLIP weights) and --adapters, or choose files below.';
    else if (!a) message = 'CLIP weights are loaded but no adapters: train on a few of your images below, or choose an adapters file.';
    else if (!calibration)
      message = `Ready. These adapters carry no calibration, so each image is scored with the ${describeRule({ kind: 'run-min-max', images: 1 })}: scores do not compare across images.`;
    else message = 'Ready: drop images to get an anomaly score and a heatmap.';
    return {
      ready: a !== null,
      clip: this.clipPath,
      adapters: a?.source ?? null,
      organ: this.organ,
      levels: a ? [...a.checkpoint.adapters.levels] : null,
      image_size: a?.imageSize ?? this.opts.imageSize ?? null,
      calibration: calibration !== null,
      task: this.engine?.model?.task ?? null,
      support_images: a?.supportImages ?? 0,
      choices: { clip: [...this.allowedClip.values()], adapters: [...this.allowedAdapters.values()] },
      message,
    };
  }

  async close(): Promise<void> {
    this.active = null;
    await this.engine?.release();
    this.engine = null;
  }
}
