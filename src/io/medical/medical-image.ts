// One entry point for the image formats researchers bring: PNG/JPEG/TIFF/... (through image.ts),
// DICOM (every frame) and NIfTI (every axial slice), each turned into named 8-bit rasters that go
// through the same resize -> [3, size, size] float tensor path as ordinary images.

import { open } from 'node:fs/promises';
import { basename } from 'node:path';

import { dicomToRaster, openDicom, type DicomRasterOptions } from './dicom.ts';
import { CLIP_MEAN, CLIP_STD, loadImageRgb8, rasterToTensor, type DecodeOptions, type RgbLoadOptions } from '../image/image.ts';
import { NiftiError, niftiAxialSlices, readNifti, type NiftiSliceOptions, type NiftiWindow } from './nifti.ts';
import { resizeUint8, type RasterU8 } from '../image/resample.ts';

export type MedicalFormat = 'dicom' | 'nifti' | 'raster';

/** Most pixels of one image, frame or slice (rows x columns), read from disk or uploaded to the server. */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Most bytes of 8-bit rasters that loadMedicalImages keeps for one file (openMedicalImages streams them instead). */
export const MAX_LOADED_RASTER_BYTES = 512 * 1024 * 1024;

/** Bytes of the file start that `detectFormat` looks at. */
export const DETECT_HEAD_BYTES = 352;

function ascii(b: Uint8Array, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

function int32(b: Uint8Array, le: boolean): number {
  if (b.length < 4) return -1;
  return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, le);
}

/**
 * The format of a file from its first bytes (at least DETECT_HEAD_BYTES when available) and its name:
 * 'dicom' for 'DICM' at byte 128; 'nifti' for sizeof_hdr 348 with magic 'n+1'/'ni1' at byte 344, or
 * sizeof_hdr 540 with magic 'n+2'/'ni2' at byte 4 (either byte order), or gzip data named *.nii.gz
 * (or *.hdr.gz); 'raster' for everything else (left to the ordinary image decoder).
 */
export function detectFormat(path: string, head: Uint8Array): MedicalFormat {
  if (head.length >= 132 && ascii(head, 128, 'DICM')) return 'dicom';
  const size = [int32(head, true), int32(head, false)];
  if (size.includes(348) && head.length >= 348 && (ascii(head, 344, 'n+1\0') || ascii(head, 344, 'ni1\0'))) return 'nifti';
  if (size.includes(540) && (ascii(head, 4, 'n+2\0') || ascii(head, 4, 'ni2\0'))) return 'nifti';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b && /\.(nii|hdr)\.gz$/i.test(path)) return 'nifti';
  return 'raster';
}

async function readHead(path: string): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(DETECT_HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, DETECT_HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface MedicalImageItem {
  /** `file.png`; `ct.dcm` or `ct.dcm#frame=3` (multi-frame); `scan.nii.gz#z=042` (`...#z=042,t=1` for volume 1 of a 4-D image). */
  name: string;
  format: MedicalFormat;
  /** 8-bit raster: RGB for ordinary images and colour DICOM, grey (1 channel) otherwise. */
  raster: RasterU8;
}

export interface LoadMedicalOptions extends RgbLoadOptions, DecodeOptions {
  /** DICOM frames to load: 'all' (default) or one zero-based frame number. */
  frames?: 'all' | number;
  /** DICOM display window (see dicomToRaster): 'auto' (default), 'minmax' or {center, width}. */
  dicomWindow?: DicomRasterOptions['window'];
  /** NIfTI display window: 'auto' (default, 0.5/99.5 percentiles of the volume), {min, max} or {center, width}. */
  niftiWindow?: NiftiWindow;
  /** NIfTI volume of a 4-D image (default 0). */
  volume?: number;
  /** NIfTI slice orientation (see niftiAxialSlices): 'stored' (default) or 'canonical'. */
  orientation?: NiftiSliceOptions['orientation'];
}

/** The images of one file, decoded one at a time as they are iterated. */
export interface MedicalImageStream extends AsyncIterable<MedicalImageItem> {
  format: MedicalFormat;
  /** How many images the iteration yields. */
  count: number;
}

/**
 * Opens a file of any supported format and yields its images one by one, named for reporting: ordinary images
 * once (as `Image.open(p).convert('RGB')`), DICOM files once per frame (each frame decoded when reached), NIfTI
 * volumes once per axial slice. Each image may have at most MAX_IMAGE_PIXELS pixels. Errors name the file.
 */
export async function openMedicalImages(path: string, opts: LoadMedicalOptions = {}): Promise<MedicalImageStream> {
  const name = basename(path);
  let head: Uint8Array;
  try {
    head = await readHead(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  const format = detectFormat(path, head);
  if (format === 'dicom') {
    const src = await openDicom(path, { dtype: 'float32', maxPixels: MAX_IMAGE_PIXELS });
    const frames = opts.frames ?? 'all';
    const list = frames === 'all' ? Array.from({ length: src.numberOfFrames }, (_, i) => i) : [frames];
    return {
      format,
      count: list.length,
      async *[Symbol.asyncIterator]() {
        for (const k of list) {
          const frame = await src.decodeFrame(k);
          const raster = dicomToRaster({ ...src, frames: [frame] }, { window: opts.dicomWindow });
          yield { name: src.numberOfFrames > 1 ? `${name}#frame=${k}` : name, format, raster };
        }
      },
    };
  }
  if (format === 'nifti') {
    const vol = await readNifti(path);
    if ((vol.dims[0] ?? 1) * (vol.dims[1] ?? 1) > MAX_IMAGE_PIXELS) {
      throw new NiftiError(path, `slices of ${vol.dims[0]}x${vol.dims[1]} voxels are too large (at most ${MAX_IMAGE_PIXELS} pixels are accepted)`);
    }
    const t = opts.volume ?? 0;
    const slices = niftiAxialSlices(vol, { window: opts.niftiWindow, volume: t, orientation: opts.orientation });
    const width = Math.max(3, String(slices.length - 1).length);
    const volumes = vol.data.length / ((vol.dims[0] ?? 1) * (vol.dims[1] ?? 1) * (vol.dims[2] ?? 1));
    const suffix = volumes > 1 ? `,t=${t}` : '';
    return {
      format,
      count: slices.length,
      async *[Symbol.asyncIterator]() {
        for (let z = 0; z < slices.length; z++) yield { name: `${name}#z=${String(z).padStart(width, '0')}${suffix}`, format, raster: slices[z] };
      },
    };
  }
  return {
    format,
    count: 1,
    async *[Symbol.asyncIterator]() {
      yield { name, format, raster: await loadImageRgb8(path, opts) };
    },
  };
}

/**
 * Loads every image a file holds (see openMedicalImages), keeping at most MAX_LOADED_RASTER_BYTES of rasters.
 * Errors name the file.
 */
export async function loadMedicalImages(path: string, opts: LoadMedicalOptions = {}): Promise<MedicalImageItem[]> {
  const out: MedicalImageItem[] = [];
  let bytes = 0;
  for await (const item of await openMedicalImages(path, opts)) {
    bytes += item.raster.data.length;
    if (bytes > MAX_LOADED_RASTER_BYTES) {
      throw new Error(`${path}: its images hold more than ${MAX_LOADED_RASTER_BYTES} bytes of 8-bit pixels; read it image by image (openMedicalImages)`);
    }
    out.push(item);
  }
  return out;
}

/** A grey raster as RGB (each value replicated, as PIL's convert('RGB') of an 'L' image); RGB unchanged. */
export function toRgbRaster(r: RasterU8): RasterU8 {
  if (r.channels === 3) return r;
  if (r.channels !== 1) throw new RangeError(`expected 1 or 3 channels, got ${r.channels}`);
  const out = new Uint8Array(r.width * r.height * 3);
  for (let i = 0, o = 0; i < r.data.length; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = r.data[i];
  return { width: r.width, height: r.height, channels: 3, data: out };
}

/**
 * The MVFA image tensor of a raster, as loadImageTensor computes it for an image file: RGB ->
 * Resize((size, size), BICUBIC) (Pillow-exact; not resampled when already size x size) -> ToTensor()
 * [-> CLIP Normalize]. float32 [3, size, size].
 */
export function medicalRasterToTensor(r: RasterU8, opts: { size: number; normalize?: 'none' | 'clip' }): Float32Array {
  const size = opts.size;
  const rgb = toRgbRaster(r);
  const resized = rgb.width === size && rgb.height === size ? rgb : resizeUint8(rgb, size, size, 'bicubic');
  return rasterToTensor(resized, opts.normalize === 'clip' ? { mean: CLIP_MEAN, std: CLIP_STD } : undefined);
}
