// The Engine: one object per process that owns what is expensive (the CLIP weights, text features, the compiled
// graphs of the model in use) and scores images through the one prediction path (./predict.ts).
//
//   const engine = await Engine.open('ViT-L-14-336px.pt');
//   await engine.load({ adapters: 'brain.safetensors', support: { dir: 'few/good' } });
//   const p = await engine.predict('scan.png');            // { score, map, raw, rule }
//   // a run split in parts: raw results per image anywhere, the run rule once over the union
//   const raws = [await engine.score(a), await engine.score(b)];
//   const { rule, predictions } = engine.fuse(raws);
//   await engine.release();
//
// The CLIP checkpoint is opened once; each graph takes its weights from it (read by onnxruntime from the file and
// pre-packed, see `WeightPlacement`); loading other adapters releases the graphs of the
// previous model. `mvfa predict`, `mvfa serve`, the library and the shard/queue workers all use this class.
import { existsSync } from 'node:fs';
import { loadClip } from '../clip/factory.ts';
import { type ClipModel, type ClipOptions } from '../clip/model.ts';
import { type SessionConfig } from '../graph/index.ts';
import { anomalyTextFeatures, cachedTextFeatures } from '../clip/text-features.ts';
import { type AugmentMode, augmentSupport, listImages } from '../data/training-set.ts';
import { type AdapterCheckpoint, loadAdapters } from '../mvfa/checkpoint.ts';
import { MVFA_DEFAULTS } from '../mvfa/defaults.ts';
import { type BranchScores, type FusionRule, type Task } from '../mvfa/fusion.ts';
import { Mvfa } from '../mvfa/mvfa.ts';
import { type FitOptions, type FitResult, fitMvfa } from './fit.ts';
import { type ImageInput, type Prediction, type ScoreOptions, fuseResults, inputTensor, predictImage, scoreImage } from './predict.ts';
import { RefusedInputError } from '../util/errors.ts';

/** A problem with what was asked of the engine (missing organ, …): a usage error (exit code 2). */
export class EngineUsageError extends RefusedInputError {
  override readonly name = 'EngineUsageError';
}

export interface EngineOptions extends ClipOptions {
  /** Folder for cached text features (per weights file and organ); null: no disk cache. */
  cacheDir?: string | null;
  log?: (msg: string) => void;
}

/** Support images for the few-shot memory bank. */
export type SupportSpec =
  /** Input tensors already at the model's size (already augmented if wanted). */
  | Float32Array[]
  /** A folder of normal images, expanded ×11 as the official code unless augment is 'none'. */
  | { dir: string; augment?: AugmentMode };

export interface ModelSpec {
  /** Adapters file (ours or an official .pth), or a checkpoint in memory (just trained). */
  adapters: string | AdapterCheckpoint;
  /** Organ for the prompts (default: the one stored with the adapters). */
  organ?: string;
  /** Adapter blocks, for files that do not store them (default: the quarters of the CLIP's depth). */
  levels?: readonly number[];
  /** Model input side (default: stored with the adapters, else 240). */
  imageSize?: number;
  /** Task the score follows when the adapters store none (default 'AC+AS'). */
  task?: Task;
  support?: SupportSpec | null;
}

/** Session settings given explicitly (unset ones are left out, so the process-wide settings apply). */
function sessionConfigOf(o: SessionConfig): SessionConfig {
  const c: SessionConfig = {};
  if (o.threads !== undefined) c.threads = o.threads;
  if (o.device !== undefined) c.device = o.device;
  return c;
}

export class Engine {
  private current: Mvfa | null = null;
  private supportCount = 0;
  private organName: string | null = null;
  private readonly texts = new Map<string, Promise<Float32Array>>();

  private constructor(
    readonly clip: ClipModel,
    /** The engine loaded the CLIP itself and releases it. */
    private readonly ownsClip: boolean,
    readonly options: EngineOptions,
  ) {}

  /** Loads CLIP weights (any supported file) once for this engine. */
  static async open(clipPath: string, o: EngineOptions = {}): Promise<Engine> {
    const t0 = Date.now();
    const clip = await loadClip(clipPath, { ...o, ...sessionConfigOf(o) });
    o.log?.(
      `loaded CLIP ${clipPath} (vision ${clip.config.vision.width}×${clip.config.vision.layers}, patch ${clip.config.vision.patchSize}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    return new Engine(clip, true, o);
  }

  /** An engine over a CLIP loaded elsewhere (the caller keeps releasing it). */
  static fromClip(clip: ClipModel, o: EngineOptions = {}): Engine {
    return new Engine(clip, false, o);
  }

  /** The model in use (null before `load`). */
  get model(): Mvfa | null {
    return this.current;
  }

  /** Organ of the prompts of the model in use. */
  get organ(): string | null {
    return this.organName;
  }

  /** Memory-bank images of the model in use (after augmentation). */
  get supportImages(): number {
    return this.supportCount;
  }

  /** Text features [2, D] for an organ: computed once per engine, cached on disk when a cache folder is set. */
  textFeatures(organ: string): Promise<Float32Array> {
    if (!organ.trim()) return Promise.reject(new EngineUsageError('an organ name is needed for the prompts (e.g. Brain, Liver, "retinal OCT")'));
    let t = this.texts.get(organ);
    if (!t) {
      const dir = this.options.cacheDir;
      t = dir && existsSync(this.clip.source) ? cachedTextFeatures(this.clip, this.clip.source, organ, dir) : anomalyTextFeatures(this.clip, organ);
      t.catch(() => this.texts.delete(organ));
      this.texts.set(organ, t);
    }
    return t;
  }

  /**
   * Opens adapters as the model in use: text features, memory bank from the support images, inference graph
   * compiled. The previous model's graphs are released once the new one is ready (on failure it stays in use).
   */
  async load(spec: ModelSpec): Promise<Mvfa> {
    const ck = typeof spec.adapters === 'string' ? await loadAdapters(spec.adapters, spec.levels, this.clip.config.vision.layers) : spec.adapters;
    const where = typeof spec.adapters === 'string' ? spec.adapters : 'these adapters';
    const organ = spec.organ ?? ck.info.organ;
    if (!organ) throw new EngineUsageError(`${where} do not say which organ they were trained for: give an organ name`);
    const text = await this.textFeatures(organ);
    const model = Mvfa.fromCheckpoint(this.clip, ck, text, { ...this.sessionConfig(), imageSize: spec.imageSize, task: spec.task });
    let count = 0;
    try {
      const images = await this.supportTensors(spec.support ?? null, model.imageSize);
      count = images?.length ?? 0;
      if (images?.length) await model.setSupport(images);
      else await model.warmup();
    } catch (e) {
      await model.release();
      throw e;
    }
    await this.current?.release();
    this.current = model;
    this.supportCount = count;
    this.organName = organ;
    return model;
  }

  private sessionConfig(): SessionConfig {
    return sessionConfigOf(this.options);
  }

  private async supportTensors(s: SupportSpec | null, size: number): Promise<Float32Array[] | null> {
    if (!s) return null;
    if (Array.isArray(s)) return s;
    const raw = await Promise.all(listImages(s.dir, 'support').map((p) => inputTensor({ imageSize: size }, p)));
    return augmentSupport(raw, size, s.augment ?? MVFA_DEFAULTS.augment);
  }

  private active(): Mvfa {
    if (!this.current) throw new EngineUsageError('no adapters are loaded: call load() first');
    return this.current;
  }

  /** Raw branch outputs of one image with the model in use (independent of any other image). */
  async score(image: ImageInput, o: ScoreOptions = {}): Promise<BranchScores> {
    return scoreImage(this.active(), image, o);
  }

  /** The rule of the model in use over a list of raw results (calibration, else min–max over exactly these). */
  fuse(raws: readonly BranchScores[]): { rule: FusionRule; predictions: Prediction[] } {
    return fuseResults(raws, this.active());
  }

  /** One image scored alone (see `predictImage`). */
  async predict(image: ImageInput): Promise<Prediction> {
    return predictImage(this.active(), image);
  }

  /**
   * Trains adapters with this engine's CLIP and text features (see `fitMvfa`). The model in use is unloaded first:
   * its graphs are not needed while the training graphs run. Load the result with `load({ adapters: checkpoint })`.
   */
  async fit(o: FitOptions): Promise<FitResult> {
    await this.unload();
    return fitMvfa(this.clip, await this.textFeatures(o.organ), o);
  }

  /** Releases the model's graphs (the CLIP stays loaded). */
  async unload(): Promise<void> {
    const m = this.current;
    this.current = null;
    this.supportCount = 0;
    this.organName = null;
    await m?.release();
  }

  /** Releases every graph, and the CLIP when the engine loaded it. */
  async release(): Promise<void> {
    await this.unload();
    this.texts.clear();
    if (this.ownsClip) await this.clip.release();
  }
}
