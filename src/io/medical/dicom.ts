// DICOM Part 10 reading: pixel data as modality values (Rescale Slope / Intercept applied) plus the
// attributes needed to display it, and conversion of a frame to an 8-bit grey or RGB raster.
//
// Transfer syntaxes: implicit / explicit VR little endian, deflated explicit VR little endian,
// explicit VR big endian, RLE Lossless, JPEG baseline and extended (8-bit), JPEG lossless (process 14),
// JPEG-LS, JPEG 2000. Anything else is refused with an error naming the transfer syntax.

import { readFile } from 'node:fs/promises';
import type { Element } from 'dicom-parser';

import { decodeCompressedFrame } from './dicom-codecs.ts';
import { attrsFrom, DicomError, parse, requireUint16, sequenceItem } from './dicom-dataset.ts';
import { encapsulatedFrames, nativeFrame, nativeFrameBits, storedToValues, ybrFullToRgb, type NativeLayout } from './dicom-pixels.ts';
import { decodeRleFrame, type RawSamples } from './dicom-rle.ts';
import { transferSyntax, type TransferSyntax } from './dicom-syntax.ts';
import { colourToBytes, greyToBytes, type DicomWindow, type VoiLutFunction } from './dicom-window.ts';
import type { RasterU8 } from '../image/resample.ts';

export { DicomError, MAX_INFLATED_BYTES } from './dicom-dataset.ts';
export { applyVoi, type DicomWindow, type VoiLutFunction } from './dicom-window.ts';
export { SUPPORTED_TRANSFER_SYNTAXES, transferSyntax, type TransferSyntax } from './dicom-syntax.ts';

export interface DicomFrame {
  /** Zero-based frame number in the file. */
  index: number;
  /** rows * columns * samples values, pixel-interleaved; monochrome values have the rescale applied. */
  pixels: Float64Array | Float32Array;
  /** A Rescale Slope / Intercept applies to this frame (top level, shared or per-frame functional group). */
  rescaled: boolean;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** First Window Center / Width pair that applies to this frame (per-frame, shared or top level). */
  window: DicomWindow | undefined;
}

export interface DicomImage {
  file: string;
  transferSyntax: TransferSyntax;
  modality: string | undefined;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  /**
   * As stored in the file. Colour frames are returned as RGB whatever this says (YBR is converted);
   * PALETTE COLOR frames hold the palette indices (no LUT is applied, and dicomToRaster refuses them).
   */
  photometricInterpretation: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  signed: boolean;
  numberOfFrames: number;
  /** Top-level (or shared functional group) Rescale Slope / Intercept; 1 / 0 when absent (see each frame's). */
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Whether a rescale applies: top level, shared or per-frame functional groups (monochrome data only). */
  rescaled: boolean;
  /** First Window Center / Width pair at the top level or in the shared functional groups. */
  window: DicomWindow | undefined;
  voiLutFunction: VoiLutFunction;
  /** What was tolerated while reading the file (empty for a well-formed file). */
  warnings: string[];
  /** The decoded frames, in the order requested. */
  frames: DicomFrame[];
}

export interface DicomOpenOptions {
  /** Output precision of the pixel values (default 'float64'). */
  dtype?: 'float64' | 'float32';
  /** Name used in error messages when the input is a buffer. */
  name?: string;
  /** Refuse images with more than this many pixels per frame (rows x columns), before any pixel data is read. */
  maxPixels?: number;
  /** Most bytes a deflated data set may inflate to (default MAX_INFLATED_BYTES). */
  maxInflatedBytes?: number;
}

export interface DicomReadOptions extends DicomOpenOptions {
  /** Frame to decode (zero-based, default 0) or 'all'. */
  frame?: number | 'all';
}

/** A parsed DICOM file whose frames are decoded on request (one at a time, to bound memory). */
export interface DicomSource extends Omit<DicomImage, 'frames'> {
  decodeFrame(index: number): Promise<DicomFrame>;
}

const MONO = new Set(['MONOCHROME1', 'MONOCHROME2']);

function frameList(sel: number | 'all', total: number, name: string): number[] {
  if (sel === 'all') return Array.from({ length: total }, (_, i) => i);
  if (!Number.isInteger(sel) || sel < 0 || sel >= total) {
    throw new DicomError(name, `frame ${sel} out of range: the file has ${total} frame${total === 1 ? '' : 's'}`);
  }
  return [sel];
}

/** Parses a DICOM Part 10 file (path or bytes): attributes now, pixel data per frame on request. */
export async function openDicom(input: string | Uint8Array, opts: DicomOpenOptions = {}): Promise<DicomSource> {
  const name = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DicomError(name, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message);
    }
  } else {
    bytes = input;
  }
  // A plain Uint8Array view, so that slice() copies (Buffer.slice does not).
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { ds, warnings } = await parse(bytes, name, { maxInflatedBytes: opts.maxInflatedBytes });
  const ts = transferSyntax(ds.string('x00020010') ?? '');
  const pixelEl: Element | undefined = ds.elements.x7fe00010 ?? ds.elements.x7fe00008 ?? ds.elements.x7fe00009;
  if (!pixelEl) throw new DicomError(name, 'no pixel data (7FE0,0010)');
  if (ts.encoding === 'unsupported') throw new DicomError(name, `unsupported transfer syntax ${ts.uid} (${ts.name})`);

  const rows = requireUint16(ds, 'x00280010', 'Rows', name);
  const columns = requireUint16(ds, 'x00280011', 'Columns', name);
  const floatData = pixelEl.tag !== 'x7fe00010';
  const bitsAllocated = floatData ? (pixelEl.tag === 'x7fe00008' ? 32 : 64) : requireUint16(ds, 'x00280100', 'Bits Allocated', name);
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const highBit = ds.uint16('x00280102') ?? bitsStored - 1;
  const pixelRepresentation = ds.uint16('x00280103') === 1 ? 1 : 0;
  const samplesPerPixel = ds.uint16('x00280002') ?? 1;
  const photometric = (ds.string('x00280004') ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).toUpperCase();
  const numberOfFrames = Math.max(1, ds.intString('x00280008') ?? 1);
  const voiFn = (ds.string('x00281056') ?? sequenceItem(sequenceItem(ds, 'x52009229'), 'x00289132')?.string('x00281056') ?? 'LINEAR').toUpperCase();
  const voiLutFunction: VoiLutFunction = voiFn === 'LINEAR_EXACT' || voiFn === 'SIGMOID' ? voiFn : 'LINEAR';
  if (rows === 0 || columns === 0) throw new DicomError(name, `image has no pixels (${columns}x${rows})`);
  if (opts.maxPixels !== undefined && rows * columns > opts.maxPixels) {
    throw new DicomError(name, `the image is too large (${columns}x${rows} pixels; at most ${opts.maxPixels} are accepted)`);
  }
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw new DicomError(name, `${samplesPerPixel} samples per pixel is not supported`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit >= bitsAllocated) {
    throw new DicomError(name, `inconsistent Bits Allocated/Stored/High Bit (${bitsAllocated}/${bitsStored}/${highBit})`);
  }
  const mono = MONO.has(photometric);
  if (samplesPerPixel === 3 && !['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_ICT', 'YBR_RCT'].includes(photometric)) {
    throw new DicomError(name, `Photometric Interpretation ${photometric} is not supported`);
  }

  const shared = sequenceItem(ds, 'x52009229');
  const top = attrsFrom([shared, ds]);
  const canRescale = mono && !floatData;
  const ctor = opts.dtype === 'float32' ? Float32Array : Float64Array;
  const n = rows * columns * samplesPerPixel;
  const layout: NativeLayout = {
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    planarConfiguration: ds.uint16('x00280006') ?? 0,
    ybr422: photometric === 'YBR_FULL_422' && ts.encoding !== 'jpeg',
  };
  const littleEndian = ts.encoding !== 'native-be';

  let fragments: Uint8Array[] | undefined;
  let native: Uint8Array | undefined;
  try {
    if (ts.encoding === 'native' || ts.encoding === 'native-be') {
      native = ds.byteArray.subarray(pixelEl.dataOffset, pixelEl.dataOffset + pixelEl.length);
      if (pixelEl.encapsulatedPixelData) throw new Error('pixel data is encapsulated but the transfer syntax is not');
      const need = Math.ceil((nativeFrameBits(layout) * numberOfFrames) / 8);
      if (native.length < need || pixelEl.dataOffset + pixelEl.length > ds.byteArray.length) {
        throw new Error(`pixel data is truncated: ${Math.min(native.length, ds.byteArray.length - pixelEl.dataOffset)} bytes, expected ${need}`);
      }
      if (!littleEndian && bitsAllocated === 8 && pixelEl.vr === 'OW') native = swapPairs(native);
    } else {
      if (!pixelEl.encapsulatedPixelData) throw new Error(`pixel data is not encapsulated as ${ts.name} requires`);
      fragments = encapsulatedFrames(ds, pixelEl, numberOfFrames, ts.encoding === 'rle');
    }
  } catch (err) {
    if (err instanceof DicomError) throw err;
    throw new DicomError(name, (err as Error).message);
  }

  const decodeFrame = async (k: number): Promise<DicomFrame> => {
    frameList(k, numberOfFrames, name);
    const perFrame = sequenceItem(ds, 'x52009230', k);
    const fa = perFrame ? attrsFrom([perFrame, shared, ds]) : top;
    const rescale = canRescale && fa.slope !== undefined;
    const slope = rescale ? (fa.slope ?? 1) : 1;
    const intercept = rescale ? (fa.intercept ?? 0) : 0;
    let raw: RawSamples | Float32Array | Float64Array;
    let preSigned = false;
    let rgbDone = false;
    try {
      if (floatData && native) {
        raw = floatFrame(native, k, n, bitsAllocated, littleEndian);
      } else if (native) {
        raw = nativeFrame(native, layout, k, littleEndian);
      } else if (ts.encoding === 'rle') {
        raw = decodeRleFrame(fragments![k], rows, columns, samplesPerPixel, bitsAllocated);
      } else {
        const geometry = { rows, columns, samplesPerPixel, bitsAllocated, photometric };
        const dec = await decodeCompressedFrame(ts.encoding as 'jpeg' | 'jpeg-ls' | 'jpeg2000', fragments![k], geometry);
        raw = dec.samples;
        preSigned = dec.signed;
        rgbDone = dec.rgb;
      }
    } catch (err) {
      throw new DicomError(name, `cannot decode frame ${k} (${ts.name}): ${(err as Error).message}`);
    }
    const pixels = new ctor(n);
    if (floatData) {
      pixels.set(raw);
    } else {
      storedToValues(raw as RawSamples, { bitsStored, highBit, pixelRepresentation, preSigned, slope, intercept, rescale }, pixels);
    }
    if (samplesPerPixel === 3 && !rgbDone && photometric.startsWith('YBR_FULL')) ybrFullToRgb(pixels);
    return { index: k, pixels, rescaled: rescale, rescaleSlope: slope, rescaleIntercept: intercept, window: mono ? fa.window : undefined };
  };

  return {
    file: name,
    transferSyntax: ts,
    modality: ds.string('x00080060'),
    rows,
    columns,
    samplesPerPixel,
    photometricInterpretation: photometric,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    signed: pixelRepresentation === 1,
    numberOfFrames,
    rescaleSlope: canRescale ? (top.slope ?? 1) : 1,
    rescaleIntercept: canRescale ? (top.intercept ?? 0) : 0,
    rescaled: canRescale && (top.slope !== undefined || sequenceItem(sequenceItem(ds, 'x52009230'), 'x00289145') !== undefined),
    window: mono ? top.window : undefined,
    voiLutFunction,
    warnings,
    decodeFrame,
  };
}

/** Reads a DICOM Part 10 file (path or bytes) and decodes the requested frames. */
export async function readDicom(input: string | Uint8Array, opts: DicomReadOptions = {}): Promise<DicomImage> {
  const { decodeFrame, ...info } = await openDicom(input, opts);
  const frames: DicomFrame[] = [];
  for (const k of frameList(opts.frame ?? 0, info.numberOfFrames, info.file)) frames.push(await decodeFrame(k));
  return { ...info, frames };
}

function swapPairs(b: Uint8Array): Uint8Array {
  const out = b.slice();
  for (let i = 0; i + 1 < out.length; i += 2) {
    out[i] = b[i + 1];
    out[i + 1] = b[i];
  }
  return out;
}

function floatFrame(bytes: Uint8Array, k: number, n: number, bits: number, le: boolean): Float64Array {
  const size = bits / 8;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + k * n * size, n * size);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = size === 4 ? dv.getFloat32(4 * i, le) : dv.getFloat64(8 * i, le);
  return out;
}

export interface DicomRasterOptions {
  /**
   * 'auto' (default): the file's window for this frame when present, else the frame's min..max.
   * 'minmax': always the frame's min..max. {center, width}: this window.
   */
  window?: DicomWindow | 'auto' | 'minmax';
  /** VOI LUT function for the window; default: the file's (0028,1056) for its own window, LINEAR for a given one. */
  voiLutFunction?: VoiLutFunction;
  /** Frame number (zero-based, as in the file) among the decoded frames; default the first decoded frame. */
  frame?: number;
}

/**
 * An 8-bit raster of one decoded frame: grey (1 channel) for MONOCHROME1/2, windowed with the PS3.3
 * C.11.2.1.2 function (or scaled from min..max) and inverted for MONOCHROME1; RGB (3 channels) for
 * colour, unchanged for 8-bit samples and scaled from 0..2^BitsStored-1 otherwise.
 */
export function dicomToRaster(img: DicomImage, opts: DicomRasterOptions = {}): RasterU8 {
  const frame = opts.frame === undefined ? img.frames[0] : img.frames.find((f) => f.index === opts.frame);
  if (!frame) {
    throw new DicomError(img.file, `frame ${opts.frame} was not decoded (decoded: ${img.frames.map((f) => f.index).join(', ') || 'none'})`);
  }
  const { rows: height, columns: width } = img;
  if (img.samplesPerPixel === 3) {
    return { width, height, channels: 3, data: colourToBytes(frame.pixels, img.bitsStored) };
  }
  if (!MONO.has(img.photometricInterpretation)) {
    throw new DicomError(img.file, `Photometric Interpretation ${img.photometricInterpretation} cannot be displayed`);
  }
  const sel = opts.window ?? 'auto';
  const win = sel === 'minmax' ? undefined : sel === 'auto' ? frame.window : sel;
  const fn = opts.voiLutFunction ?? (sel === 'auto' ? img.voiLutFunction : 'LINEAR');
  let data: Uint8Array;
  try {
    data = greyToBytes(frame.pixels, win, fn, img.photometricInterpretation === 'MONOCHROME1');
  } catch (err) {
    throw new DicomError(img.file, (err as Error).message);
  }
  return { width, height, channels: 1, data };
}

/** Rasters of every decoded frame, with their frame numbers. */
export function dicomToRasters(img: DicomImage, opts: Omit<DicomRasterOptions, 'frame'> = {}): { frame: number; raster: RasterU8 }[] {
  return img.frames.map((f) => ({ frame: f.index, raster: dicomToRaster(img, { ...opts, frame: f.index }) }));
}
