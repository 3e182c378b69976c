// The MVFA model a user holds: CLIP backbone + adapters + text features (+ memory banks), scoring images.
//
// The method (CVPR 2024; official train_few.py / test_few.py, spec in §3–§5), step by step, and where each lives:
//   text features   T = mean of normalised prompt embeddings, [normal; abnormal]  clip/text-features.ts anomalyTextFeatures
//   input           RGB → bicubic 240×240 → [0,1]                                 io/medical/medical-image.ts medicalRasterToTensor
//   frozen blocks   patch-embed, +pos, ln_pre, blocks 1..levels[0]                 network.ts frozenPrefix
//   adapters        mid = LReLU(x·W1ᵀ), out = LReLU(mid·W2ᵀ) at blocks 6/12/18/24   adapters.ts adapter
//   residual        x ← 0.8·x + 0.1·seg(x) + 0.1·det(x)                            network.ts adaptedTail
//   zero-shot       100·P̂·T̂ᵀ → softmax → bilinear upsampling, Σ over levels        scoring.ts zeroShotLogits, segProbabilities,
//                   (seg map S_zero; det score c_zero = mean abnormal probability)  abnormalChannel, detScore; inference.ts
//   memory bank     min over the bank of (1 − cos), upsampled, Σ over levels       scoring.ts memoryDistance; inference.ts
//   losses          focal + dice (seg, AC+AS), BCE (det), Σ over levels            losses.ts; training-graph.ts compileTrainStep
//   optimiser       Adam (β 0.5, 0.999), lr 1e-3, 50 epochs, ×11 augmentation      adam.ts; trainer.ts; defaults.ts MVFA_DEFAULTS
//   fusion          0.5·norm(zero) + 0.5·norm(few), min–max over the test set      fusion.ts fuse, fuseRun
//                   (or over a stored calibration set for single images)           fusion.ts calibrate, fuseCalibrated
//   image score     max of the fused map (AC+AS), fused det scores (AC)            fusion.ts fuse
import { type CompiledGraph, type SessionConfig } from '../graph/index.ts';
import { existsSync } from 'node:fs';
import { type ClipModel } from '../clip/model.ts';
import { anomalyTextFeatures, cachedTextFeatures } from '../clip/text-features.ts';
import { type AdapterCheckpoint, loadAdapters } from './checkpoint.ts';
import { type AdapterSet, type Head, checkAdapterFit } from './adapters.ts';
import { MVFA_DEFAULTS } from './defaults.ts';
import { type BranchScores, type Calibration, type Task } from './fusion.ts';
import { type MemoryBank, bankFeeds, compileInference, compileMemorySearch, runInference } from './inference.ts';
import { concatArrays } from '../util/arrays.ts';
import { type Backbone } from './network.ts';

export interface MvfaConfig extends SessionConfig {
  /** Model input side (default: 240). */
  imageSize?: number;
  /** Which score the memory bank feeds (default: the calibration's task, else 'AC+AS'): AC+AS the seg map, AC the det score. */
  task?: Task;
}

export interface MvfaLoadOptions extends MvfaConfig {
  /** Organ name for the prompts (default: the one stored with the adapters). */
  organ?: string;
  /** Adapter levels, for files that do not store them (default: the quarters of the CLIP's depth). */
  levels?: number[];
  /** Where text features are cached (default: no cache). */
  cacheDir?: string;
}

export class Mvfa {
  readonly backbone: Backbone;
  readonly imageSize: number;
  readonly task: Task;
  private inferGraph: Promise<CompiledGraph> | null = null;
  private banks: { seg: MemoryBank; det: MemoryBank } | null = null;
  private bankGraph: Promise<CompiledGraph> | null = null;

  constructor(
    readonly clip: ClipModel,
    public adapters: AdapterSet,
    /** [2, D]: normal, abnormal. */
    readonly text: Float32Array,
    public calibration: Calibration | null = null,
    readonly config: MvfaConfig = {},
  ) {
    checkAdapterFit(adapters, clip.config.vision.width, clip.config.embedDim, clip.source);
    if (text.length !== 2 * adapters.bottleneck) throw new Error(`text features must be [2, ${adapters.bottleneck}], got ${text.length} values`);
    this.backbone = { weights: clip.weights, vision: clip.config.vision, activation: clip.activation };
    this.imageSize = config.imageSize ?? MVFA_DEFAULTS.imageSize;
    this.task = calibration?.task ?? config.task ?? 'AC+AS';
  }

  /** CLIP + adapters file (ours or an official .pth) → a ready model with its text features. */
  static async load(clip: ClipModel, adaptersPath: string, o: MvfaLoadOptions = {}): Promise<Mvfa> {
    const ck = await loadAdapters(adaptersPath, o.levels, clip.config.vision.layers);
    const organ = o.organ ?? ck.info.organ;
    if (!organ) throw new Error(`${adaptersPath}: no organ name stored with these adapters; pass { organ }`);
    const text =
      o.cacheDir && existsSync(clip.source) ? await cachedTextFeatures(clip, clip.source, organ, o.cacheDir) : await anomalyTextFeatures(clip, organ);
    return Mvfa.fromCheckpoint(clip, ck, text, o);
  }

  /** A model from adapters in memory: image size and task from the options, else from the checkpoint, else the defaults. */
  static fromCheckpoint(clip: ClipModel, ck: AdapterCheckpoint, text: Float32Array, o: MvfaConfig = {}): Mvfa {
    const imageSize = o.imageSize ?? (ck.info.imageSize ? Number(ck.info.imageSize) : MVFA_DEFAULTS.imageSize);
    const stored = ck.info.task === 'AC' || ck.info.task === 'AC+AS' ? ck.info.task : undefined;
    return new Mvfa(clip, ck.adapters, text, ck.calibration ?? null, { ...o, imageSize, task: o.task ?? stored });
  }

  get tokens(): number {
    const grid = Math.floor(this.imageSize / this.backbone.vision.patchSize);
    return grid * grid + 1;
  }

  /** Compiles the inference graph now (it is otherwise compiled on the first image: ~20–30 s for ViT-L). */
  async warmup(): Promise<void> {
    await this.graph();
  }

  private graph(): Promise<CompiledGraph> {
    this.inferGraph ??= compileInference(this.backbone, this.adapters.levels, this.adapters.bottleneck, this.imageSize, 1, this.config);
    return this.inferGraph;
  }

  /** Builds the per-level memory banks of both heads from support images (already augmented if wanted). */
  async setSupport(images: Float32Array[]): Promise<void> {
    if (images.length === 0) throw new Error('no support images');
    const g = await this.graph();
    const seg: Float32Array[][] = this.adapters.levels.map(() => []);
    const det: Float32Array[][] = this.adapters.levels.map(() => []);
    for (const im of images) {
      const r = await runInference(g, im, this.adapters, this.text);
      r.tokens.seg.forEach((t, j) => seg[j].push(t));
      r.tokens.det.forEach((t, j) => det[j].push(t));
    }
    const d = this.adapters.bottleneck;
    const size = images.length * this.tokens;
    this.banks = {
      seg: { head: 'seg', dim: d, levels: seg.map((p) => concatArrays(p)), size },
      det: { head: 'det', dim: d, levels: det.map((p) => concatArrays(p)), size },
    };
    if (this.bankGraph) await (await this.bankGraph).release();
    this.bankGraph = compileMemorySearch(this.adapters.levels.length, 1, this.tokens, d, size, this.imageSize, this.config);
  }

  /** Installs memory banks computed elsewhere (per level, normalised tokens [M, D] of each head). */
  async setBanks(banks: { seg: MemoryBank; det: MemoryBank }): Promise<void> {
    this.banks = banks;
    if (this.bankGraph) await (await this.bankGraph).release();
    this.bankGraph = compileMemorySearch(this.adapters.levels.length, 1, this.tokens, this.adapters.bottleneck, banks.seg.size, this.imageSize, this.config);
  }

  /** Whether compiled graphs are held (false after `release()`, until the model is used again). */
  get holdsGraphs(): boolean {
    return this.inferGraph !== null || this.bankGraph !== null;
  }

  get hasSupport(): boolean {
    return this.banks !== null;
  }

  /**
   * Raw branch outputs for one image [3,S,S]: the official dumps (zero_seg, zero_det, few_seg, few_det).
   * `fewHeads` limits the memory-bank search to the heads needed (the official scores use seg for AC+AS, det for AC).
   */
  async analyze(image: Float32Array, fewHeads: readonly ('seg' | 'det')[] = ['seg', 'det']): Promise<BranchScores> {
    const r = await runInference(await this.graph(), image, this.adapters, this.text);
    const out: BranchScores = { zeroSeg: r.zeroSeg, zeroDet: r.zeroDet[0] };
    if (this.banks && this.bankGraph) {
      const bg = await this.bankGraph;
      for (const head of fewHeads) {
        const feeds: Record<string, Float32Array> = {};
        const banks = bankFeeds(this.banks[head]);
        r.tokens[head].forEach((q, j) => {
          feeds[`query_${j}`] = q;
          feeds[`bank_${j}`] = banks[j];
        });
        const few = (await bg.run(feeds)).few.data;
        if (head === 'seg') out.fewSeg = few;
        else out.fewDet = few;
      }
    }
    return out;
  }

  /** The memory-bank head whose branch the official score uses for this model's task (seg for AC+AS, det for AC). */
  get scoreHead(): Head {
    return this.task === 'AC' ? 'det' : 'seg';
  }

  async release(): Promise<void> {
    if (this.inferGraph) await (await this.inferGraph).release();
    if (this.bankGraph) await (await this.bankGraph).release();
    this.inferGraph = null;
    this.bankGraph = null;
  }
}
