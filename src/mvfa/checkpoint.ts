// Adapter checkpoints: safetensors with the official key names (prefixed by head), metadata for levels and
// calibration; import of the official `.pth` files ({'seg_adapters': …, 'det_adapters': …}).
import { openSafetensors, writeSafetensors } from '../io/weights/safetensors.ts';
import { type HostTensor, toFloat32 } from '../io/weights/tensor.ts';
import { loadWeights } from '../io/weights/weights.ts';
import { type AdapterPair, type AdapterSet, HEADS, adapterKey, adapterParams } from './adapters.ts';
import { defaultLevels } from './defaults.ts';
import { type Calibration, parseCalibration } from './fusion.ts';

export class AdapterFileError extends Error {
  /** Exit code of the command line: a usage error (the adapters file given is not usable). */
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`${file}: ${what}`);
    this.name = 'AdapterFileError';
  }
}

export interface AdapterCheckpoint {
  adapters: AdapterSet;
  calibration?: Calibration;
  /** Free-form provenance (organ, image size, epochs, …). */
  info: Record<string, string>;
}

export { adapterKey };

/** Writes adapters (and optional calibration/provenance in the metadata) atomically. */
export async function saveAdapters(path: string, ck: AdapterCheckpoint, overwrite = false): Promise<void> {
  const { adapters: a } = ck;
  const tensors = new Map<string, HostTensor>();
  for (const p of adapterParams(a.levels.length)) {
    const shape = p.fc === 'fc1' ? [a.bottleneck, a.width] : [a.width, a.bottleneck];
    tensors.set(p.key, { dtype: 'float32', shape, data: a[p.head][p.level][p.fc] });
  }
  const meta: Record<string, string> = { format: 'mvfa-adapters', levels: a.levels.join(','), ...ck.info };
  if (ck.calibration) meta.calibration = JSON.stringify(ck.calibration);
  await writeSafetensors(path, tensors, meta, { overwrite });
}

/**
 * Reads adapters from our safetensors files or the official `.pth` checkpoints. Levels come from the file's
 * metadata, else `levels`, else `defaultLevels(layers)` (the quarters of the CLIP's depth: the official
 * 6,12,18,24 for ViT-L/14's 24 blocks) when the file has that many levels.
 */
export async function loadAdapters(path: string, levels?: readonly number[], layers = 24): Promise<AdapterCheckpoint> {
  let meta: Record<string, string> = {};
  if (path.toLowerCase().endsWith('.safetensors')) {
    const f = await openSafetensors(path);
    meta = { ...(f.metadata ?? {}) };
    f.close();
  }
  const raw = await loadWeights(path);
  const prefix = [...raw.keys()].some((k) => k.startsWith('module.')) ? 'module.' : '';
  const get = (key: string): HostTensor | undefined => raw.get(prefix + key);
  let n = 0;
  while (get(adapterKey('seg', n, 'fc1')) || get(adapterKey('det', n, 'fc1'))) n++;
  if (n === 0)
    throw new AdapterFileError(
      path,
      `no adapter tensors found (expected keys like '${adapterKey('seg', 0, 'fc1')}'; found ${[...raw.keys()].slice(0, 3).join(', ')}…)`,
    );
  const first = get(adapterKey('seg', 0, 'fc1')) ?? get(adapterKey('det', 0, 'fc1'))!;
  const [bottleneck, width] = first.shape;
  const pairs: Record<'seg' | 'det', AdapterPair[]> = { seg: [], det: [] };
  for (const head of HEADS) {
    for (let j = 0; j < n; j++) {
      const t = (fc: 'fc1' | 'fc2', shape: number[]): Float32Array => {
        const key = adapterKey(head, j, fc);
        const x = get(key);
        if (!x) throw new AdapterFileError(path, `missing tensor ${key}`);
        if (x.shape.length !== 2 || x.shape[0] !== shape[0] || x.shape[1] !== shape[1])
          throw new AdapterFileError(path, `${key}: shape [${x.shape}] does not match [${shape}]`);
        return toFloat32(x);
      };
      pairs[head].push({ fc1: t('fc1', [bottleneck, width]), fc2: t('fc2', [width, bottleneck]) });
    }
  }
  const known = new Set(adapterParams(n).map((p) => prefix + p.key));
  for (const k of raw.keys()) if (!known.has(k)) throw new AdapterFileError(path, `unexpected tensor ${k}`);
  let lv: number[];
  if (meta.levels) lv = meta.levels.split(',').map(Number);
  else if (levels) lv = [...levels];
  else if (n === defaultLevels(layers).length) lv = defaultLevels(layers);
  else throw new AdapterFileError(path, `${n} adapter levels but no levels given (pass --levels)`);
  if (lv.length !== n) throw new AdapterFileError(path, `file has ${n} adapter levels but levels ${lv.join(',')} were given`);
  let calibration: Calibration | undefined;
  try {
    calibration = meta.calibration ? parseCalibration(meta.calibration, path) : undefined;
  } catch (e) {
    throw new AdapterFileError(path, (e as Error).message.slice(path.length + 2));
  }
  const info = { ...meta };
  delete info.calibration;
  delete info.levels;
  delete info.format;
  return { adapters: { width, bottleneck, levels: lv, seg: pairs.seg, det: pairs.det }, calibration, info };
}
