// Workers score files through the Engine (the one prediction path): raw values per image (`Engine.score`), and the
// stored calibration when the adapters carry one (`Engine.fuse` of that image alone). Without a calibration the
// official rule needs the whole run, so raw maps go to the job's dump folder and `queue collect` fuses the union.
// The CLIP weights are loaded once per file and shared by every model (adapters) a worker keeps.
import { join } from 'node:path';
import { loadClip } from '../../clip/factory.ts';
import { type ClipModel } from '../../clip/model.ts';
import { type Activation } from '../../clip/transformer.ts';
import { type Device } from '../../graph/index.ts';
import { writeNpy } from '../../io/weights/npy.ts';
import { type MedicalImageItem, loadMedicalImages } from '../../io/medical/medical-image.ts';
import { mean } from '../../mvfa/fusion.ts';
import { type Mvfa } from '../../mvfa/mvfa.ts';
import { Engine } from '../engine.ts';
import { writeHeatmapPng } from '../heatmap.ts';
import { type FailureRow, type ResultRow } from '../merge.ts';
import { type ModelSpec } from './jobs.ts';
import { type FileRecord, type FileScorer, type OpenScorer, type VolumeSummary } from './records.ts';
import { dumpName, parseWindow } from '../output-names.ts';

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
    const window = parseWindow(spec.window);
    return {
      scoreFile: (file, dirs) => scoreFile(engine, model, file, dirs, window),
      release: () => engine.release(),
    };
  };
}

async function scoreFile(
  engine: Engine,
  model: Mvfa,
  file: string,
  dirs: { out?: string; dump?: string },
  window: ReturnType<typeof parseWindow>,
): Promise<FileRecord> {
  const items: MedicalImageItem[] = await loadMedicalImages(file, { dicomWindow: window, niftiWindow: window === 'minmax' ? 'auto' : window });
  const rows: ResultRow[] = [];
  const failures: FailureRow[] = [];
  const dump: Record<string, Record<string, number>> = {};
  let volume: VolumeSummary | undefined;
  const size = model.imageSize;
  for (const item of items) {
    try {
      const raw = await engine.score(item.raster);
      const s = dumpName(file, item, items.length);
      const entry: Record<string, number> = { zero_det: raw.zeroDet };
      if (raw.fewDet) entry.few_det = mean(raw.fewDet);
      let score: number | null = null;
      if (model.calibration) {
        const p = engine.fuse([raw]).predictions[0];
        score = p.score;
        if (dirs.out) await writeHeatmapPng(item.raster, p.map, join(dirs.out, `${s}.png`));
      }
      dump[s] = score === null ? entry : { ...entry, score };
      const hash = item.name.indexOf('#');
      rows.push({ image: hash < 0 ? file : `${file}${item.name.slice(hash)}`, score, ...entry });
      if (items.length > 1) {
        const v = (volume ??= { slices: 0, max: -Infinity, argmax: '' });
        const val = score ?? raw.zeroDet;
        v.slices++;
        if (val > v.max) {
          v.max = val;
          v.argmax = item.name;
        }
      }
      if (dirs.dump) {
        const shape = [size, size];
        await writeNpy(join(dirs.dump, `${s}.zero_seg.npy`), { dtype: 'float32', shape, data: raw.zeroSeg }, { overwrite: true });
        if (raw.fewSeg) await writeNpy(join(dirs.dump, `${s}.few_seg.npy`), { dtype: 'float32', shape, data: raw.fewSeg }, { overwrite: true });
        if (raw.fewDet) await writeNpy(join(dirs.dump, `${s}.few_det.npy`), { dtype: 'float32', shape, data: raw.fewDet }, { overwrite: true });
      }
    } catch (e) {
      failures.push({ input: item.name === file ? file : `${file} (${item.name})`, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  if (rows.length === 0 && failures.length) throw new Error(failures.map((f) => f.reason).join('; '));
  return { model: { organ: engine.organ, task: model.task, calibration: model.calibration?.source ?? null }, rows, volume, dump, failures };
}
