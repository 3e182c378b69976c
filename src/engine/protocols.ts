// Benchmark protocols of the paper: few-shot (train on a K-shot split of valid/, test on test/) and zero-shot
// (leave-one-out: train on the other datasets' test splits, evaluate on the target).
import { join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { BMAD_KEYS, DATASETS, DatasetError, isBmadKey } from '../data/datasets.ts';
import { drawFewShotSplit, fewShotSplit } from '../data/fewshot.ts';
import { type Dataset, openDataset, orderedItems } from '../data/layout.ts';
import { type AugmentMode, augmentSupport } from '../data/training-set.ts';
import { loadImageTensor, loadMask } from '../io/image/image.ts';
import { initAdapters } from '../mvfa/adapters.ts';
import { type TrainSample, trainAdapters } from '../mvfa/trainer.ts';
import { type EvalResult, evaluateSplit } from './evaluate.ts';
import { epochStepper } from './epoch-progress.ts';
import { type Engine } from './engine.ts';

export interface ProtocolCommon {
  /** Holds the CLIP and text features; each run's model is loaded into it and unloaded after its test. */
  engine: Engine;
  epochs: number;
  lr: number;
  seed: number;
  levels: number[];
  imageSize: number;
  batchSize: number;
  aupro: boolean;
  workDir: string;
  onStage?: (stage: string, done: number, total: number) => void;
}

export interface RunResult {
  run: number;
  split: { normals: string[]; abnormals: string[]; seedFile: string | null };
  result: EvalResult;
  timings: Record<string, number>;
}

/** Opens a BMAD dataset by key under `data`, or any folder in the same layout (organ required then). */
/** File in a dataset folder that names its organ (first non-empty line), for folders that are not BMAD sets. */
export const ORGAN_FILE = 'organ.txt';

/** The organ named by `dir/organ.txt`, or undefined when there is no such file. */
export function organFromFile(dir: string): string | undefined {
  const file = join(dir, ORGAN_FILE);
  if (!existsSync(file)) return undefined;
  const organ = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== '');
  if (!organ) throw new DatasetError(`${file} is empty: write the organ name (e.g. "breast ultrasound") on its first line`);
  return organ;
}

/**
 * Opens a dataset by BMAD key or folder (under `data`, else as a path). The organ is `organ` when given, else the
 * folder's organ.txt, else (BMAD sets only) the official one; any other folder without either is an error saying how
 * to name it.
 */
export function resolveDataset(data: string, name: string, organ?: string): Dataset {
  const dir = isBmadKey(name) ? join(data, DATASETS[name].folder) : existsSync(join(data, name)) ? join(data, name) : name;
  const named = organ ?? organFromFile(dir);
  try {
    return openDataset(dir, named ? { organ: named } : {});
  } catch (e) {
    if (e instanceof DatasetError && named === undefined && e.message.includes('an organ name is required')) {
      throw new DatasetError(`${e.message}: pass --organ NAME, or write the organ name in ${join(resolve(dir), ORGAN_FILE)}`);
    }
    throw e;
  }
}

export interface FewShotOptions extends ProtocolCommon {
  dataset: Dataset;
  shots: number;
  runs: number;
  augment: AugmentMode;
}

export async function fewShotProtocol(o: FewShotOptions): Promise<RunResult[]> {
  const ds = o.dataset;
  const engine = o.engine;
  const out: RunResult[] = [];
  for (let run = 0; run < o.runs; run++) {
    const t0 = Date.now();
    // Run 0 uses the official (or the dataset's own) seed list; later runs draw splits with seeded randomness.
    let split;
    try {
      split = run === 0 ? fewShotSplit(ds.dir, isBmadKey(ds.info.key) ? ds.info.key : undefined, o.shots, { task: ds.info.task }) : null;
    } catch (e) {
      if (run !== 0 || !(e as Error).message.includes('seed')) throw e;
    }
    split ??= drawFewShotSplit(ds.valid, o.shots, o.seed + run);
    const files = {
      normal: split.normals,
      abnormal: split.abnormals.map((p) => ({ path: p, mask: ds.info.task === 'AC+AS' ? (split.masks.get(p) ?? null) : null })),
    };
    const fit = await engine.fit({
      files,
      organ: ds.info.organ,
      epochs: o.epochs,
      lr: o.lr,
      augment: o.augment,
      shuffle: true,
      seed: o.seed + run,
      levels: o.levels,
      imageSize: o.imageSize,
      batchSize: o.batchSize,
      out: join(o.workDir, `adapters_run${run}.safetensors`),
      overwrite: true,
      // epoch ends are already visible as the per-epoch training bars
      onStage: (s, d, t) => (s === 'epoch' ? undefined : o.onStage?.(`run ${run + 1}: ${s}`, d, t)),
      onStep: epochStepper(`run ${run + 1}: train`, o.epochs, (l, d, t) => o.onStage?.(l, d, t)),
    });
    const tTrain = Date.now();
    const support = await Promise.all(split.normals.map(async (p) => (await loadImageTensor(p, { size: o.imageSize })).tensor));
    const model = await engine.load({
      adapters: fit.checkpoint,
      organ: ds.info.organ,
      imageSize: o.imageSize,
      support: augmentSupport(support, o.imageSize, o.augment),
    });
    const tBank = Date.now();
    const result = await evaluateSplit(model, orderedItems(ds.test), {
      task: ds.info.task,
      mode: 'few',
      aupro: o.aupro,
      onProgress: (d, t) => o.onStage?.(`run ${run + 1}: test`, d, t),
    });
    await engine.unload();
    out.push({
      run,
      split: { normals: split.normals, abnormals: split.abnormals, seedFile: split.seedFile },
      result,
      timings: { ...fit.timings, memory_bank_s: (tBank - tTrain) / 1000, ...result.timings, run_total_s: (Date.now() - t0) / 1000 },
    });
  }
  return out;
}

export interface ZeroShotOptions extends ProtocolCommon {
  data: string;
  target: string;
  /** Organ of the target (else its organ.txt, else the BMAD one); each source names its own in its organ.txt. */
  organ?: string;
  /** Source datasets (default: every other BMAD dataset present under `data`). */
  sources?: string[];
  runs: number;
}

/** Leave-one-out zero-shot protocol (official: other datasets' test splits, lr 1e-4, no augmentation). */
export async function zeroShotProtocol(o: ZeroShotOptions): Promise<RunResult[]> {
  const target = resolveDataset(o.data, o.target, o.organ);
  const sources = (o.sources ?? BMAD_KEYS.filter((k) => k !== target.info.key && existsSync(join(o.data, DATASETS[k].folder)))).map((k) =>
    resolveDataset(o.data, k),
  );
  if (sources.length === 0) throw new Error(`no source datasets found under ${o.data} besides ${target.info.key}`);
  const samples: TrainSample[] = [];
  for (const src of sources) {
    const text = await o.engine.textFeatures(src.info.organ);
    for (const it of orderedItems(src.test)) {
      const image = (await loadImageTensor(it.path, { size: o.imageSize })).tensor;
      const mask = it.mask ? Float32Array.from(await loadMask(it.mask, o.imageSize)) : null;
      samples.push({ name: it.path, image, mask, label: it.label, text, task: src.info.task, group: src.info.key });
    }
  }
  const text = await o.engine.textFeatures(target.info.organ);
  const clip = o.engine.clip;
  const out: RunResult[] = [];
  for (let run = 0; run < o.runs; run++) {
    const t0 = Date.now();
    await o.engine.unload();
    const init = initAdapters(clip.config.vision.width, clip.config.embedDim, o.levels, o.seed + run);
    const bb = { weights: clip.weights, vision: clip.config.vision, activation: clip.activation };
    const trainProgress = epochStepper(`run ${run + 1}: train`, o.epochs, (l, d, t) => o.onStage?.(l, d, t));
    const tr = await trainAdapters(bb, init, text, samples, {
      epochs: o.epochs,
      lr: o.lr,
      acOnly: false,
      batchSize: o.batchSize,
      shuffle: true,
      seed: o.seed + run,
      onStep: (s) => trainProgress(s, Math.ceil(samples.length / o.batchSize)),
    });
    const tTrain = Date.now();
    const model = await o.engine.load({ adapters: { adapters: tr.adapters, info: {} }, organ: target.info.organ, imageSize: o.imageSize });
    const result = await evaluateSplit(model, orderedItems(target.test), {
      task: target.info.task,
      mode: 'zero',
      aupro: o.aupro,
      onProgress: (d, t) => o.onStage?.(`run ${run + 1}: test`, d, t),
    });
    await o.engine.unload();
    out.push({ run, split: { normals: [], abnormals: [], seedFile: null }, result, timings: { train_s: (tTrain - t0) / 1000, ...result.timings } });
  }
  return out;
}
