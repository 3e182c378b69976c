// Training MVFA from image folders: files → samples → adapters → calibration → checkpoint (crash-safe, resumable).
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ClipModel } from '../clip/model.ts';
import { type AugmentMode, type TrainingFiles, augmentSupport, checkMaskSizes, loadTrainingSamples, trainingFiles } from '../data/training-set.ts';
import { type AdapterSet, checkAdapterFit, initAdapters } from '../mvfa/adapters.ts';
import { type Calibration, type Task, calibrate } from '../mvfa/fusion.ts';
import { type AdapterCheckpoint, saveAdapters } from '../mvfa/checkpoint.ts';
import { Mvfa } from '../mvfa/mvfa.ts';
import { checkLevels } from '../mvfa/network.ts';
import { loadTrainingState, saveTrainingState } from '../mvfa/train-state.ts';
import { type StepLosses, drawsPerEpoch, trainAdapters } from '../mvfa/trainer.ts';
import { type LossVariant } from '../mvfa/training-graph.ts';

export interface FitOptions {
  /** Training images: folders, or `files` listed already (e.g. a few-shot split). */
  normalDir?: string;
  abnormalDir?: string;
  masksDir?: string;
  files?: TrainingFiles;
  organ: string;
  epochs: number;
  lr: number;
  augment: AugmentMode;
  shuffle: boolean;
  seed: number;
  levels: number[];
  imageSize: number;
  batchSize: number;
  init?: AdapterSet;
  /** Output adapters path; the resumable state goes to `${out}.state`. */
  out: string;
  resume?: boolean;
  overwrite?: boolean;
  onStage?: (stage: string, done: number, total: number) => void;
  onStep?: (s: StepLosses, stepsPerEpoch: number) => void;
  /** Loss definitions: 'code' (official, default) or 'paper'. */
  loss?: LossVariant;
  /** Skip writing the adapters file (the checkpoint is still returned). */
  noSave?: boolean;
}

export interface FitResult {
  checkpoint: AdapterCheckpoint;
  losses: StepLosses[];
  timings: Record<string, number>;
}

/** SHA-256 of every training file's bytes (images and masks), so a resume notices a file replaced under its name. */
async function contentDigests(files: TrainingFiles): Promise<string[]> {
  const paths = [...files.normal, ...files.abnormal.flatMap((a) => (a.mask === null ? [a.path] : [a.path, a.mask]))];
  const out: string[] = [];
  for (const p of paths) {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
    out.push(h.digest('hex'));
  }
  return out;
}

export async function fitMvfa(clip: ClipModel, text: Float32Array, o: FitOptions): Promise<FitResult> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (k: string) => {
    timings[k] = (Date.now() - t) / 1000;
    t = Date.now();
  };
  if (!o.noSave && existsSync(o.out) && !o.overwrite && !o.resume) throw new Error(`${o.out}: already exists (pass --force to replace it)`);
  checkLevels(o.levels, clip.config.vision.layers);
  await mkdir(dirname(o.out), { recursive: true });
  let files: TrainingFiles;
  if (o.files) files = o.files;
  else if (o.normalDir && o.abnormalDir) files = trainingFiles(o.normalDir, o.abnormalDir, o.masksDir);
  else throw new Error('training needs normal and abnormal image folders');
  await checkMaskSizes(files);
  const acOnly = files.abnormal.every((a) => a.mask === null);
  const task: Task = acOnly ? 'AC' : 'AC+AS';
  const nFiles = files.abnormal.length + files.normal.length;
  let loaded = 0;
  const samples = await loadTrainingSamples(files, o.imageSize, o.augment, () => o.onStage?.('load', ++loaded, nFiles));
  lap('load_s');
  const bottleneck = clip.config.embedDim;
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        files,
        contents: await contentDigests(files),
        organ: o.organ,
        loss: o.loss ?? 'code',
        epochs: o.epochs,
        lr: o.lr,
        augment: o.augment,
        shuffle: o.shuffle,
        seed: o.seed,
        levels: o.levels,
        imageSize: o.imageSize,
        batchSize: o.batchSize,
      }),
    )
    .digest('hex');
  const statePath = `${o.out}.state`;
  let start = o.init ?? initAdapters(clip.config.vision.width, bottleneck, o.levels, o.seed);
  checkAdapterFit(start, clip.config.vision.width, bottleneck, 'initial adapters');
  let resumeState;
  let priorLosses: StepLosses[] = [];
  if (o.resume) {
    const saved = await loadTrainingState(statePath, { levels: o.levels, epochs: o.epochs, drawsPerEpoch: drawsPerEpoch(samples.length, o.shuffle) });
    if (saved) {
      if (saved.fingerprint !== fingerprint) throw new Error(`${statePath}: saved with different data or settings; cannot resume`);
      start = saved.adapters;
      resumeState = saved.state;
      priorLosses = saved.losses;
      o.onStage?.('resume', saved.state.epochsDone, o.epochs);
    }
  }
  const bb = { weights: clip.weights, vision: clip.config.vision, activation: clip.activation };
  const stepsPerEpoch = Math.ceil(samples.length / o.batchSize);
  const runLosses: StepLosses[] = [];
  const r = await trainAdapters(bb, start, text, samples, {
    epochs: o.epochs,
    lr: o.lr,
    acOnly,
    batchSize: o.batchSize,
    shuffle: o.shuffle,
    seed: o.seed,
    resume: resumeState,
    loss: o.loss,
    onStep: (s) => {
      runLosses.push(s);
      o.onStep?.(s, stepsPerEpoch);
    },
    onEpoch: async (epoch, adapters, state) => {
      await saveTrainingState(statePath, { adapters, state, losses: [...priorLosses, ...runLosses], fingerprint });
      if (process.env.MVFA_TEST_HOLD) await (await import('../util/test-hold.ts')).testHold('checkpoint', epoch + 1);
      o.onStage?.('epoch', epoch + 1, o.epochs);
    },
  });
  lap('train_s');
  // Calibration for single-image scoring: memory bank of the (augmented) normal images, ranges over all originals.
  const model = new Mvfa(clip, r.adapters, text, null, { imageSize: o.imageSize });
  const normals = samples.filter((s) => s.label === 0 && !s.name.includes('#aug'));
  const originals = samples.filter((s) => !s.name.includes('#aug'));
  await model.setSupport(
    augmentSupport(
      normals.map((s) => s.image),
      o.imageSize,
      o.augment,
    ),
  );
  const raw = [];
  for (const s of originals) raw.push(await model.analyze(s.image));
  await model.release();
  const calibration: Calibration = calibrate(
    raw,
    task,
    `${originals.length} training images (${normals.length} normal in the memory bank${o.augment === 'mvfa' ? ', ×11 augmented' : ''})`,
  );
  lap('calibrate_s');
  const checkpoint: AdapterCheckpoint = {
    adapters: r.adapters,
    calibration,
    info: {
      organ: o.organ,
      imageSize: String(o.imageSize),
      task,
      epochs: String(o.epochs),
      lr: String(o.lr),
      augment: o.augment,
      seed: String(o.seed),
      trainImages: String(nFiles),
    },
  };
  if (!o.noSave) await saveAdapters(o.out, checkpoint, o.overwrite || o.resume);
  await rm(statePath, { force: true });
  return { checkpoint, losses: [...priorLosses, ...r.losses], timings };
}
