// Workers score files as `mvfa predict` does (../score-files.ts: each image through `Engine.score`, and the stored
// calibration when the adapters carry one, `Engine.fuse` of that image alone). Without a calibration the
// official rule needs the whole run, so raw maps go to the job's dump folder and `queue collect` fuses the union.
// The CLIP weights are loaded once per file and shared by every model (adapters) a worker keeps.
import { loadClip } from '../../clip/factory.ts';
import { type ClipModel } from '../../clip/model.ts';
import { type Activation } from '../../clip/transformer.ts';
import { type Device } from '../../graph/index.ts';
import { type LoadMedicalOptions } from '../../io/medical/medical-image.ts';
import { type Mvfa } from '../../mvfa/mvfa.ts';
import { Engine } from '../engine.ts';
import { type FailureRow, type ResultRow } from '../merge.ts';
import { type VolumeSummary, OutputWriter, addToVolume, dumpEntry, resultRow, scoreFile, windowLoadOptions } from '../score-files.ts';
import { type ModelSpec } from './jobs.ts';
import { type FileRecord, type FileScorer, type OpenScorer } from './records.ts';
import { parseWindow } from '../output-names.ts';

export interface EngineScorerOptions {
  threads?: number;
  device?: Device;
  cacheDir: string | null;
  log?: (msg: string) => void;
}

/** Opens models for a worker: one CLIP per weights file, one Engine per model spec. */
export function engineScorers(o: EngineScorerOptions): OpenScorer {
  const clips = new Map<string, Promise<ClipModel>>();
  return async (spec: ModelSpec): Promise<FileScorer> => {
    if (!spec.clip) throw new Error('the job names no CLIP weights file');
    const key = `${spec.clip}\0${spec.activation}`;
    let clip = clips.get(key);
    if (!clip) {
      clip = loadClip(spec.clip, { activation: spec.activation as Activation, threads: o.threads, device: o.device });
      clip.catch(() => clips.delete(key));
      clips.set(key, clip);
    }
    const engine = Engine.fromClip(await clip, { cacheDir: o.cacheDir, threads: o.threads, device: o.device, log: o.log });
    const model = await engine.load({
      adapters: spec.adapters,
      organ: spec.organ,
      levels: spec.levels,
      imageSize: spec.imageSize,
      support: spec.support ? { dir: spec.support, augment: spec.supportAugment } : null,
    });
    const load = windowLoadOptions(parseWindow(spec.window));
    return {
      scoreFile: (file, dirs) => scoreOne(engine, model, file, dirs, load),
      release: () => engine.release(),
    };
  };
}

async function scoreOne(engine: Engine, model: Mvfa, file: string, dirs: { out?: string; dump?: string }, load: LoadMedicalOptions): Promise<FileRecord> {
  const { images, failures } = await scoreFile(engine, file, { load, writer: new OutputWriter(dirs) });
  const fails: FailureRow[] = failures.map((f) => ({ input: f.input, reason: f.error instanceof Error ? f.error.message : String(f.error) }));
  if (images.length === 0 && fails.length) throw new Error(fails.map((f) => f.reason).join('; '));
  const dump: Record<string, Record<string, number>> = {};
  let volume: VolumeSummary | undefined;
  for (const s of images) {
    dump[s.stem] = dumpEntry(s, s.score);
    // Without calibration the volume's provisional maximum follows the raw det score (`queue collect` fuses the run).
    if (s.volume) volume = addToVolume(volume, s.score ?? s.zeroDet, s.item);
  }
  const rows: ResultRow[] = images.map((s) => resultRow(s, s.score));
  return { model: { organ: engine.organ, task: model.task, calibration: model.calibration?.source ?? null }, rows, volume, dump, failures: fails };
}
