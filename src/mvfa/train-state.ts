// Resumable training state: adapters, Adam moments and RNG position after a finished epoch, in one safetensors file.
import { existsSync } from 'node:fs';
import { openSafetensors, writeSafetensors } from '../io/safetensors.ts';
import { type HostTensor, toFloat32 } from '../io/tensor.ts';
import { type AdapterSet, HEADS } from './adapters.ts';
import { adapterKey } from './checkpoint.ts';
import { type StepLosses, type TrainerState } from './trainer.ts';

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

export async function loadTrainingState(path: string): Promise<SavedTraining | null> {
  if (!existsSync(path)) return null;
  const f = await openSafetensors(path);
  try {
    const meta = f.metadata ?? {};
    if (meta.format !== 'mvfa-training-state') throw new Error(`${path}: not an mvfa training state file`);
    const levels = meta.levels.split(',').map(Number);
    const read = (k: string): Float32Array => toFloat32(f.read(k));
    const first = f.info(adapterKey('seg', 0, 'fc1'));
    const [bottleneck, width] = first.shape;
    const adapters: AdapterSet = { width, bottleneck, levels, seg: [], det: [] };
    for (const head of HEADS) {
      for (let j = 0; j < levels.length; j++) adapters[head].push({ fc1: read(adapterKey(head, j, 'fc1')), fc2: read(adapterKey(head, j, 'fc2')) });
    }
    const steps = JSON.parse(meta.adamSteps) as Record<string, Record<string, number>>;
    const adam = { seg: [] as TrainerState['adam']['seg'], det: [] as TrainerState['adam']['det'] };
    for (const head of HEADS) {
      for (const [name, step] of Object.entries(steps[head] ?? {})) {
        adam[head].push({ name, step, m: read(`adam.${head}.${name}.m`), v: read(`adam.${head}.${name}.v`) });
      }
    }
    return {
      adapters,
      state: { epochsDone: Number(meta.epochsDone), rngDraws: Number(meta.rngDraws), adam },
      losses: JSON.parse(meta.losses) as StepLosses[],
      fingerprint: meta.fingerprint,
    };
  } finally {
    f.close();
  }
}
