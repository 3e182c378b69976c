// The MVFA training loop: frozen prefix cached once per image, one graph per step, two Adam optimisers.
import { CompiledGraph, Graph, type SessionConfig } from '../graph/index.ts';
import { Adam, MVFA_ADAM } from './adam.ts';
import { MVFA_DEFAULTS } from './defaults.ts';
import { type AdapterSet, type Head, adapterFeeds, adapterParam, cloneAdapters } from './adapters.ts';
import { type Backbone, checkLevels, frozenPrefix } from './network.ts';
import { mulberry32, shuffledIndices } from '../util/random.ts';
import { concatArrays } from '../util/arrays.ts';
import { type LossVariant, compileTrainStep } from './training-graph.ts';

export interface TrainSample {
  name: string;
  /** [3, S, S] in the model's input space. */
  image: Float32Array;
  /** [S, S]; binarised at 0.5. Null for normal images (all zero) or AC-only training. */
  mask: Float32Array | null;
  label: 0 | 1;
  /** Text features [2, D] of this image's source (zero-shot training mixes datasets); default: the run's. */
  text?: Float32Array;
  /** 'AC' samples train only the det head (BCE); default: the run's `acOnly`. */
  task?: 'AC' | 'AC+AS';
  /** Samples with equal group keys may share a batch (default: all). */
  group?: string;
}

export interface StepLosses {
  epoch: number;
  step: number;
  samples: string[];
  total: number;
  focal: number[];
  dice: number[];
  bce: number[];
}

export interface TrainOptions extends SessionConfig {
  epochs: number;
  lr: number;
  acOnly: boolean;
  batchSize?: number;
  shuffle?: boolean;
  seed?: number;
  onStep?: (s: StepLosses) => void;
  onEpoch?: (epoch: number, adapters: AdapterSet, state: TrainerState) => Promise<void> | void;
  /** Loss definitions: the official code's (default) or the paper's. */
  loss?: LossVariant;
  /** Resume from a saved state (epochs already done, optimiser moments, RNG position). */
  resume?: TrainerState;
}

export interface TrainerState {
  epochsDone: number;
  adam: { seg: ReturnType<Adam['state']>; det: ReturnType<Adam['state']> };
  rngDraws: number;
}

export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}

/** Random draws one epoch makes: a Fisher–Yates shuffle of `n` samples draws n − 1 numbers. */
export function drawsPerEpoch(n: number, shuffle: boolean): number {
  return shuffle ? Math.max(0, n - 1) : 0;
}

/**
 * A saved state must fit the run before it is used: at most `epochs` epochs done, and exactly the random draws those
 * epochs made (`perEpoch` each, see `drawsPerEpoch`), so a damaged count can neither stall the resume nor skew it.
 */
export function checkResumeState(s: TrainerState, epochs: number, perEpoch: number): void {
  if (!Number.isSafeInteger(s.epochsDone) || s.epochsDone < 0 || s.epochsDone > epochs)
    throw new TrainingError(`the saved training state has ${s.epochsDone} epochs done, but this run has ${epochs}; cannot resume`);
  const draws = s.epochsDone * perEpoch;
  if (s.rngDraws !== draws)
    throw new TrainingError(`the saved training state records ${s.rngDraws} random draws, but ${s.epochsDone} epochs make ${draws}; cannot resume`);
}

/** Computes the frozen stream after block levels[0] for each image [3,S,S] (one graph, batch 1). */
export async function cacheStreams(
  bb: Backbone,
  levels: readonly number[],
  imageSize: number,
  images: Float32Array[],
  cfg: SessionConfig = {},
): Promise<Float32Array[]> {
  checkLevels(levels, bb.vision.layers);
  const g = new Graph(`mvfa_prefix_${imageSize}`);
  const img = g.input('image', [1, 3, imageSize, imageSize]);
  const graph = await CompiledGraph.compile(g, { stream: frozenPrefix(img, bb, levels[0]) }, cfg);
  const out: Float32Array[] = [];
  for (const im of images) out.push((await graph.run({ image: im })).stream.data);
  await graph.release();
  return out;
}

/** Consecutive batches of at most `size` indices whose group keys are equal (order kept within each group). */
function batches(order: number[], size: number, groupOf: (i: number) => string): number[][] {
  const out: number[][] = [];
  const open = new Map<string, number[]>();
  for (const i of order) {
    const k = groupOf(i);
    const cur = open.get(k) ?? [];
    cur.push(i);
    if (cur.length === size) {
      out.push(cur);
      open.delete(k);
    } else open.set(k, cur);
  }
  for (const rest of open.values()) out.push(rest);
  return out;
}

export async function trainAdapters(
  bb: Backbone,
  init: AdapterSet,
  text: Float32Array,
  samples: TrainSample[],
  opt: TrainOptions,
): Promise<{ adapters: AdapterSet; losses: StepLosses[]; state: TrainerState }> {
  if (samples.length === 0) throw new TrainingError('no training images');
  if (opt.resume) checkResumeState(opt.resume, opt.epochs, drawsPerEpoch(samples.length, opt.shuffle ?? false));
  const s = Math.round(Math.sqrt(samples[0].image.length / 3));
  const levels = init.levels;
  const batch = Math.max(1, Math.min(opt.batchSize ?? 1, samples.length));
  const adapters = cloneAdapters(init);
  const streams = await cacheStreams(
    bb,
    levels,
    s,
    samples.map((x) => x.image),
    opt,
  );
  const tokens = streams[0].length / bb.vision.width;
  const steps = new Map<string, Awaited<ReturnType<typeof compileTrainStep>>>();
  const stepGraph = async (b: number, acOnly: boolean) => {
    const key = `${b}:${acOnly}`;
    let st = steps.get(key);
    if (!st) {
      st = await compileTrainStep(bb, { levels, bottleneck: init.bottleneck, imageSize: s, batch: b, tokens, acOnly, loss: opt.loss }, opt);
      steps.set(key, st);
    }
    return st;
  };
  const isAc = (i: number): boolean => (samples[i].task ? samples[i].task === 'AC' : opt.acOnly);
  const groupOf = (i: number): string => `${samples[i].group ?? ''}|${isAc(i)}`;
  const optims: Record<Head, Adam> = { seg: new Adam({ lr: opt.lr, ...MVFA_ADAM }), det: new Adam({ lr: opt.lr, ...MVFA_ADAM }) };
  const rnd = mulberry32(opt.seed ?? MVFA_DEFAULTS.seed);
  let draws = 0;
  const draw = () => {
    draws++;
    return rnd();
  };
  let startEpoch = 0;
  if (opt.resume) {
    optims.seg.load(opt.resume.adam.seg);
    optims.det.load(opt.resume.adam.det);
    for (let i = 0; i < opt.resume.rngDraws; i++) draw();
    startEpoch = opt.resume.epochsDone;
  }
  const losses: StepLosses[] = [];
  const nl = levels.length;
  let step = 0;
  const state = (): TrainerState => ({ epochsDone: 0, adam: { seg: optims.seg.state(), det: optims.det.state() }, rngDraws: draws });
  for (let epoch = startEpoch; epoch < opt.epochs; epoch++) {
    const order = opt.shuffle ? shuffledIndices(samples.length, draw) : samples.map((_, i) => i);
    for (const idx of batches(order, batch, groupOf)) {
      const acOnly = isAc(idx[0]);
      const { graph, withGrad } = await stepGraph(idx.length, acOnly);
      const feeds: Record<string, Float32Array> = {
        stream: concatArrays(idx.map((i) => streams[i])),
        text: samples[idx[0]].text ?? text,
        label: Float32Array.from(idx.map((i) => samples[i].label)),
      };
      if (!acOnly) {
        feeds.mask = concatArrays(
          idx.map((i) => {
            const m = samples[i].mask;
            const out = new Float32Array(s * s);
            if (m) for (let p = 0; p < out.length; p++) out[p] = m[p] > 0.5 ? 1 : 0;
            return out;
          }),
        );
      }
      Object.assign(feeds, adapterFeeds(adapters));
      const r = await graph.run(feeds);
      const total = r.loss.data[0];
      const names = idx.map((i) => samples[i].name);
      if (!Number.isFinite(total)) throw new TrainingError(`loss became ${total} at epoch ${epoch + 1}, step ${step + 1} (images: ${names.join(', ')})`);
      const rec: StepLosses = {
        epoch,
        step,
        samples: names,
        total,
        focal: acOnly ? [] : Array.from({ length: nl }, (_, j) => r[`focal_${j}`].data[0]),
        dice: acOnly ? [] : Array.from({ length: nl }, (_, j) => r[`dice_${j}`].data[0]),
        bce: Array.from({ length: nl }, (_, j) => r[`bce_${j}`].data[0]),
      };
      losses.push(rec);
      opt.onStep?.(rec);
      for (const name of withGrad) {
        const grad = r[`grad_${name}`].data;
        for (let i = 0; i < grad.length; i++) {
          if (!Number.isFinite(grad[i]))
            throw new TrainingError(`gradient of ${name} is not finite at epoch ${epoch + 1}, step ${step + 1} (images: ${names.join(', ')})`);
        }
        const { head, fc, level } = adapterParam(name, nl);
        optims[head].step(name, adapters[head][level][fc], grad);
      }
      step++;
    }
    if (opt.onEpoch) await opt.onEpoch(epoch, adapters, { ...state(), epochsDone: epoch + 1 });
  }
  for (const st of steps.values()) await st.graph.release();
  return { adapters, losses, state: { ...state(), epochsDone: opt.epochs } };
}
