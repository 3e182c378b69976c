// Training from uploaded images: the files are written to a private temporary folder (names cleaned, masks
// paired with abnormal images by name), adapters are fitted there, and the folder is removed afterwards.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClipModel } from '../clip/model.ts';
import { type AugmentMode, augmentSupport } from '../data/training-set.ts';
import { fitMvfa } from '../engine/fit.ts';
import { encodePng, loadImageTensor } from '../io/image/image.ts';
import { type AdapterCheckpoint } from '../mvfa/checkpoint.ts';
import { HttpError } from './http.ts';
import { decodeUpload } from './imaging.ts';
import { KIND_EXT, type ImageKind, stemOf } from './sniff.ts';
import { type UploadedFile } from './upload.ts';

export interface TrainingUpload {
  file: UploadedFile;
  kind: ImageKind;
}

export interface TrainingRequest {
  normal: TrainingUpload[];
  abnormal: TrainingUpload[];
  masks: TrainingUpload[];
  organ: string;
  epochs: number;
  augment: AugmentMode;
  levels: number[];
  imageSize: number;
  lr: number;
  seed: number;
  /** Private folder (0700) the run's files are written below; default the system's temporary folder. */
  scratchDir?: string;
}

export type TrainingPhase = 'idle' | 'waiting' | 'loading images' | 'training' | 'calibrating' | 'done' | 'failed';

export interface TrainingProgress {
  phase: TrainingPhase;
  /** Plain-words description of where training is. */
  message: string;
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number | null;
  /** 0..1 */
  fraction: number;
  error: string | null;
  started: string | null;
  finished: string | null;
}

export function idleProgress(): TrainingProgress {
  return {
    phase: 'idle',
    message: 'no training started',
    epoch: 0,
    epochs: 0,
    step: 0,
    steps: 0,
    loss: null,
    fraction: 0,
    error: null,
    started: null,
    finished: null,
  };
}

export interface TrainingOutcome {
  checkpoint: AdapterCheckpoint;
  /** The adapters file (.safetensors) as written. */
  bytes: Buffer;
  /** Support images for the memory bank, augmented like the calibration's. */
  support: Float32Array[];
  normalCount: number;
}

/** Plain file stem (ASCII letters, digits, '.', '_', '-'). */
function safeStem(name: string): string {
  const s = stemOf(name)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[.]+/, '');
  return (s || 'image').slice(0, 80);
}

/** Checks the pairing of masks with abnormal images by name and returns the stored stem of each upload. */
export function planFiles(r: Pick<TrainingRequest, 'normal' | 'abnormal' | 'masks'>): { normal: string[]; abnormal: string[]; masks: string[] } {
  if (r.normal.length === 0 || r.abnormal.length === 0) throw new HttpError(400, 'training needs at least one normal and one abnormal image');
  const used = new Set<string>();
  const unique = (s: string) => {
    let out = s;
    for (let k = 2; used.has(out.toLowerCase()); k++) out = `${s}_${k}`;
    used.add(out.toLowerCase());
    return out;
  };
  const normal = r.normal.map((u) => unique(safeStem(u.file.name)));
  used.clear();
  const abnormal = r.abnormal.map((u) => unique(safeStem(u.file.name)));
  if (r.masks.length === 0) return { normal, abnormal, masks: [] };
  const byStem = new Map<string, number>();
  r.abnormal.forEach((u, i) => {
    if (!byStem.has(stemOf(u.file.name))) byStem.set(stemOf(u.file.name), i);
  });
  const masks: string[] = [];
  const paired = new Set<number>();
  for (const m of r.masks) {
    if (m.kind === 'dicom') throw new HttpError(415, `${m.file.name}: masks must be PNG, JPEG, TIFF, BMP or WebP images`);
    const i = byStem.get(stemOf(m.file.name));
    if (i === undefined) throw new HttpError(400, `${m.file.name}: this mask has no abnormal image with the same name`);
    if (paired.has(i)) throw new HttpError(400, `${m.file.name}: a second mask for ${r.abnormal[i].file.name}`);
    paired.add(i);
    masks.push(abnormal[i]);
  }
  const missing = r.abnormal.filter((_, i) => !paired.has(i)).map((u) => u.file.name);
  if (missing.length)
    throw new HttpError(
      400,
      `with masks, every abnormal image needs one named like it; missing for: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );
  return { normal, abnormal, masks };
}

/** Stored bytes of an upload: DICOM images become PNG (the training loader reads ordinary image files). */
async function storedBytes(u: TrainingUpload): Promise<{ data: Uint8Array; ext: string }> {
  if (u.kind !== 'dicom') return { data: u.file.data, ext: KIND_EXT[u.kind] };
  const rgb = await decodeUpload(u.file.name, 'dicom', u.file.data);
  return { data: await encodePng(rgb.data, rgb.width, rgb.height, 3), ext: '.png' };
}

export async function trainFromUploads(clip: ClipModel, text: Float32Array, r: TrainingRequest, progress: TrainingProgress): Promise<TrainingOutcome> {
  const plan = planFiles(r);
  const dir = await mkdtemp(join(r.scratchDir ?? tmpdir(), 'mvfa-serve-train-'));
  const shown = (msg: string) => msg.split(`${dir}/`).join('');
  try {
    const write = async (sub: string, list: TrainingUpload[], stems: string[]): Promise<string[]> => {
      await mkdir(join(dir, sub), { mode: 0o700 });
      const paths: string[] = [];
      for (let i = 0; i < list.length; i++) {
        const { data, ext } = await storedBytes(list[i]);
        const p = join(dir, sub, `${stems[i]}${ext}`);
        await writeFile(p, data, { mode: 0o600 });
        paths.push(p);
      }
      return paths;
    };
    const normalPaths = await write('normal', r.normal, plan.normal);
    await write('abnormal', r.abnormal, plan.abnormal);
    if (r.masks.length) await write('masks', r.masks, plan.masks);
    const out = join(dir, 'adapters.safetensors');
    progress.phase = 'loading images';
    progress.message = 'reading the training images';
    const res = await fitMvfa(clip, text, {
      normalDir: join(dir, 'normal'),
      abnormalDir: join(dir, 'abnormal'),
      masksDir: r.masks.length ? join(dir, 'masks') : undefined,
      organ: r.organ,
      epochs: r.epochs,
      lr: r.lr,
      augment: r.augment,
      shuffle: true,
      seed: r.seed,
      levels: r.levels,
      imageSize: r.imageSize,
      batchSize: 1,
      out,
      overwrite: true,
      onStep: (s, perEpoch) => {
        progress.phase = 'training';
        progress.steps = perEpoch * r.epochs;
        progress.step = Math.min(progress.steps, progress.step + 1);
        progress.epoch = s.epoch + 1;
        progress.loss = s.total;
        progress.fraction = progress.steps ? (0.95 * progress.step) / progress.steps : 0;
        progress.message = `training: round ${progress.epoch} of ${r.epochs}`;
      },
      onStage: (stage, done, total) => {
        if (stage === 'epoch' && done === total) {
          progress.phase = 'calibrating';
          progress.message = 'measuring scores on the training images (calibration)';
        }
      },
    }).catch((e: unknown) => {
      if (e instanceof Error) e.message = shown(e.message);
      throw e;
    });
    const bytes = await readFile(out);
    const normals = await Promise.all(normalPaths.map(async (p) => (await loadImageTensor(p, { size: r.imageSize })).tensor));
    return { checkpoint: res.checkpoint, bytes, support: augmentSupport(normals, r.imageSize, r.augment), normalCount: normals.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
