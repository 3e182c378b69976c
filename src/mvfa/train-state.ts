// Resumable training state: adapters, Adam moments and RNG position after a finished epoch, in one safetensors file.
import { existsSync } from 'node:fs';
import { openSafetensors, writeSafetensors } from '../io/weights/safetensors.ts';
import { type HostTensor, toFloat32 } from '../io/weights/tensor.ts';
import { type AdapterSet, HEADS } from './adapters.ts';
import { adapterKey } from './checkpoint.ts';
import { type StepLosses, type TrainerState, checkResumeState } from './trainer.ts';

export interface SavedTraining {
  adapters: AdapterSet;
  state: TrainerState;
  losses: StepLosses[];
  /** The settings the run was started with; a resume must use the same. */
  fingerprint: string;
}

export async function saveTrainingState(path: string, s: SavedTraining): Promise<void> {
  const t = new Map<string, HostTensor>();
  const a = s.adapters;
  for (const head of HEADS) {
    a[head].forEach((p, j) => {
      t.set(adapterKey(head, j, 'fc1'), { dtype: 'float32', shape: [a.bottleneck, a.width], data: p.fc1 });
      t.set(adapterKey(head, j, 'fc2'), { dtype: 'float32', shape: [a.width, a.bottleneck], data: p.fc2 });
    });
  }
  const steps: Record<string, Record<string, number>> = {};
  for (const head of HEADS) {
    steps[head] = {};
    for (const slot of s.state.adam[head]) {
      t.set(`adam.${head}.${slot.name}.m`, { dtype: 'float32', shape: [slot.m.length], data: slot.m });
      t.set(`adam.${head}.${slot.name}.v`, { dtype: 'float32', shape: [slot.v.length], data: slot.v });
      steps[head][slot.name] = slot.step;
    }
  }
  await writeSafetensors(
    path,
    t,
    {
      format: 'mvfa-training-state',
      levels: a.levels.join(','),
      epochsDone: String(s.state.epochsDone),
      rngDraws: String(s.state.rngDraws),
      adamSteps: JSON.stringify(steps),
      losses: JSON.stringify(s.losses),
      fingerprint: s.fingerprint,
    },
    { overwrite: true },
  );
}

/** Why a saved training state cannot be used; the message names the file. */
export class TrainingStateError extends Error {
  constructor(path: string, what: string) {
    super(`${path}: ${what}; delete it to start the training afresh`);
    this.name = 'TrainingStateError';
  }
}

const MAX_LEVELS = 64;

function count(path: string, what: string, text: string | undefined): number {
  const v = text !== undefined && /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v)) throw new TrainingStateError(path, `${what} must be a whole number ≥ 0, got ${JSON.stringify(text?.slice(0, 40))}`);
  return v;
}

function parseLevels(path: string, text: string | undefined): number[] {
  const parts = (text ?? '').split(',');
  const levels = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  const ok = parts.length <= MAX_LEVELS && levels.every((l, i) => Number.isInteger(l) && l >= 1 && (i === 0 || l > levels[i - 1]));
  if (!ok) throw new TrainingStateError(path, `levels must be increasing block numbers ≥ 1, got ${JSON.stringify(text?.slice(0, 80))}`);
  return levels;
}

function parseJson(path: string, what: string, text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    throw new TrainingStateError(path, `${what} is not valid JSON`);
  }
}

/**
 * Reads a training state and checks it throughout: levels, counters, every adapter and optimiser tensor and its
 * shape, and (when given) that the levels are the run's. Any fault is a `TrainingStateError` naming the file.
 */
export interface StateExpectations {
  /** The run's adapter levels. */
  levels?: readonly number[];
  /** The run's epochs and the random draws each epoch makes (`drawsPerEpoch`): checked with `checkResumeState`. */
  epochs?: number;
  drawsPerEpoch?: number;
}

export async function loadTrainingState(path: string, expect: StateExpectations = {}): Promise<SavedTraining | null> {
  if (!existsSync(path)) return null;
  const f = await openSafetensors(path);
  try {
    const meta = f.metadata ?? {};
    if (meta.format !== 'mvfa-training-state') throw new TrainingStateError(path, 'not an mvfa training state file');
    const levels = parseLevels(path, meta.levels);
    if (expect.levels && expect.levels.join(',') !== levels.join(','))
      throw new TrainingStateError(path, `saved for adapter levels ${levels.join(',')}, but this run uses ${expect.levels.join(',')}`);
    const epochsDone = count(path, 'epochsDone', meta.epochsDone);
    const rngDraws = count(path, 'rngDraws', meta.rngDraws);
    if (expect.epochs !== undefined && expect.drawsPerEpoch !== undefined) {
      try {
        checkResumeState({ epochsDone, rngDraws, adam: { seg: [], det: [] } }, expect.epochs, expect.drawsPerEpoch);
      } catch (e) {
        throw new TrainingStateError(path, (e as Error).message);
      }
    }
    const keys = new Set(f.keys());
    const tensor = (k: string, shape: readonly number[]): Float32Array => {
      if (!keys.has(k)) throw new TrainingStateError(path, `tensor ${k} is missing`);
      const info = f.info(k);
      if (info.shape.join(',') !== shape.join(','))
        throw new TrainingStateError(path, `tensor ${k} has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}]`);
      return toFloat32(f.read(k));
    };
    if (!keys.has(adapterKey('seg', 0, 'fc1'))) throw new TrainingStateError(path, 'no adapter tensors');
    const [bottleneck, width] = f.info(adapterKey('seg', 0, 'fc1')).shape;
    if (f.info(adapterKey('seg', 0, 'fc1')).shape.length !== 2 || !(bottleneck > 0 && width > 0))
      throw new TrainingStateError(path, 'adapter tensors are not matrices');
    const adapters: AdapterSet = { width, bottleneck, levels, seg: [], det: [] };
    const sizes = new Map<string, number>();
    for (const head of HEADS) {
      for (let j = 0; j < levels.length; j++) {
        adapters[head].push({ fc1: tensor(adapterKey(head, j, 'fc1'), [bottleneck, width]), fc2: tensor(adapterKey(head, j, 'fc2'), [width, bottleneck]) });
        sizes.set(`${head}_fc1_${j}`, bottleneck * width).set(`${head}_fc2_${j}`, bottleneck * width);
      }
      if (keys.has(adapterKey(head, levels.length, 'fc1'))) throw new TrainingStateError(path, `holds more ${head} adapters than its ${levels.length} levels`);
    }
    const steps = parseJson(path, 'adamSteps', meta.adamSteps) as Record<string, unknown> | null;
    if (steps === null || typeof steps !== 'object') throw new TrainingStateError(path, 'adamSteps must be an object');
    const adam = { seg: [] as TrainerState['adam']['seg'], det: [] as TrainerState['adam']['det'] };
    for (const head of HEADS) {
      const slots = (Object.hasOwn(steps, head) ? steps[head] : {}) as Record<string, unknown> | null;
      if (slots === null || typeof slots !== 'object') throw new TrainingStateError(path, `adamSteps.${head} must be an object`);
      for (const [name, step] of Object.entries(slots)) {
        const n = sizes.get(name);
        if (n === undefined || !name.startsWith(`${head}_`))
          throw new TrainingStateError(path, `optimiser state for an unknown parameter ${JSON.stringify(name.slice(0, 40))}`);
        if (!Number.isSafeInteger(step) || (step as number) < 0) throw new TrainingStateError(path, `optimiser step of ${name} must be a whole number ≥ 0`);
        adam[head].push({ name, step: step as number, m: tensor(`adam.${head}.${name}.m`, [n]), v: tensor(`adam.${head}.${name}.v`, [n]) });
      }
    }
    const losses = parseJson(path, 'losses', meta.losses);
    if (!Array.isArray(losses)) throw new TrainingStateError(path, 'losses must be a list');
    if (typeof meta.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(meta.fingerprint)) throw new TrainingStateError(path, 'no valid fingerprint');
    return {
      adapters,
      state: { epochsDone, rngDraws, adam },
      losses: losses as StepLosses[],
      fingerprint: meta.fingerprint,
    };
  } finally {
    f.close();
  }
}
