// Decoders for compressed DICOM frames. Each returns pixel-interleaved stored sample values.
//   JPEG DCT processes, 8-bit (baseline, extended): sharp (libjpeg-turbo)
//   JPEG lossless (process 14, any predictor):       jpeg-lossless-decoder-js
//   JPEG-LS lossless / near-lossless:                 @cornerstonejs/codec-charls (CharLS, WebAssembly)
//   JPEG 2000:                                        @cornerstonejs/codec-openjpeg (OpenJPEG, WebAssembly)
// The packages are loaded on first use.

import { createRequire } from 'node:module';
import sharp from 'sharp';

import type { RawSamples } from './dicom-rle.ts';
import { concatArrays } from '../../util/arrays.ts';

export interface FrameGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  photometric: string;
}

export interface DecodedFrame {
  samples: RawSamples;
  /** Samples already carry their sign (no sign extension from Bits Stored needed). */
  signed: boolean;
  /** Colour frames come out as RGB (the codec undid any YCbCr transform). */
  rgb: boolean;
}

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- JPEG (ISO 10918-1)

interface JpegInfo {
  sof: number;
  precision: number;
  components: number;
  width: number;
  height: number;
  hasJfif: boolean;
  hasAdobe: boolean;
}

/** SOF markers of ISO 10918-1 (C0..CF but DHT, JPG and DAC). */
const isJpegSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** The frame header of a JPEG (or, with `isSof` matching SOF55, JPEG-LS) stream, read before anything is decoded. */
function jpegInfo(b: Uint8Array, isSof: (marker: number) => boolean = isJpegSof): JpegInfo {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw new Error('JPEG frame does not start with an SOI marker');
  let i = 2;
  let hasJfif = false;
  let hasAdobe = false;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) throw new Error(`corrupt JPEG frame: no marker at byte ${i}`);
    const m = b[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    const len = (b[i + 2] << 8) | b[i + 3];
    const tag = (o: number, s: string): boolean => [...s].every((c, k) => b[i + 4 + o + k] === c.charCodeAt(0));
    if (m === 0xe0 && tag(0, 'JFIF\0')) hasJfif = true;
    // libjpeg honours an Adobe marker only when it holds the transform flag (12 data bytes).
    if (m === 0xee && tag(0, 'Adobe') && len >= 14) hasAdobe = true;
    if (isSof(m)) {
      if (i + 10 > b.length) break;
      return {
        sof: m,
        precision: b[i + 4],
        height: (b[i + 5] << 8) | b[i + 6],
        width: (b[i + 7] << 8) | b[i + 8],
        components: b[i + 9],
        hasJfif,
        hasAdobe,
      };
    }
    i += 2 + len;
  }
  throw new Error('JPEG frame has no SOF marker');
}

/**
 * For Photometric Interpretation RGB the JPEG components are R, G, B (PS3.5 section 8.2.1) unless an
 * Adobe marker says otherwise. libjpeg would assume YCbCr for a JFIF or unmarked 3-component stream,
 * so the JFIF marker is dropped and an Adobe marker with transform 0 (no colour transform) inserted.
 */
function markAsRgb(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [b.subarray(0, 2)];
  parts.push(Uint8Array.from([0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0, 0, 0, 0, 0]));
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff && b[i + 1] >= 0xe0 && b[i + 1] <= 0xef) {
    const len = (b[i + 2] << 8) | b[i + 3];
    if (b[i + 1] !== 0xe0) parts.push(b.subarray(i, i + 2 + len));
    i += 2 + len;
  }
  parts.push(b.subarray(i));
  return concatArrays(parts);
}

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number): Uint8Array | Uint16Array;
  numComp: number;
  xDim: number;
  yDim: number;
}
type LosslessModule = { Decoder: new () => LosslessDecoder };

async function decodeJpeg(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  const info = jpegInfo(frame);
  if (info.width !== g.columns || info.height !== g.rows || info.components !== g.samplesPerPixel) {
    throw new Error(`JPEG frame is ${info.width}x${info.height}x${info.components}, the data set says ${g.columns}x${g.rows}x${g.samplesPerPixel}`);
  }
  if (info.sof === 0xc3 || info.sof === 0xc7 || info.sof === 0xcb || info.sof === 0xcf) {
    if (info.sof !== 0xc3) throw new Error(`JPEG lossless process with marker 0xFF${info.sof.toString(16).toUpperCase()} is not supported`);
    const mod = require('jpeg-lossless-decoder-js') as LosslessModule;
    const copy = Uint8Array.prototype.slice.call(frame);
    const out = new mod.Decoder().decode(copy.buffer, 0, copy.length);
    return { samples: out, signed: false, rgb: true };
  }
  if (info.sof !== 0xc0 && info.sof !== 0xc1 && info.sof !== 0xc2) {
    throw new Error(`JPEG process with marker 0xFF${info.sof.toString(16).toUpperCase()} (arithmetic coding or hierarchical) is not supported`);
  }
  if (info.precision !== 8) throw new Error(`${info.precision}-bit lossy JPEG is not supported (only 8-bit)`);
  const input = g.samplesPerPixel === 3 && g.photometric === 'RGB' && !info.hasAdobe ? markAsRgb(frame) : frame;
  const { data, info: out } = await sharp(input, { failOn: 'error', limitInputPixels: false, ignoreIcc: true })
    .toColourspace(g.samplesPerPixel === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (out.channels !== g.samplesPerPixel || out.width !== g.columns || out.height !== g.rows) {
    throw new Error(`JPEG decoder returned ${out.width}x${out.height}x${out.channels} samples`);
  }
  return { samples: new Uint8Array(data.buffer, data.byteOffset, data.length), signed: false, rgb: true };
}

// ---------------------------------------------------------------- codestream headers (read before decoding)

interface StreamSize {
  width: number;
  height: number;
  components: number;
  bits: number;
}

const be32 = (b: Uint8Array, i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/** Image size from the SIZ marker segment of a JPEG 2000 codestream (ISO 15444-1 A.5.1). */
function sizSegment(b: Uint8Array, at: number): StreamSize {
  if (at + 42 > b.length || b[at] !== 0xff || b[at + 1] !== 0x4f || b[at + 2] !== 0xff || b[at + 3] !== 0x51) {
    throw new Error('JPEG 2000 frame does not start with SOC and SIZ markers');
  }
  const s = at + 6; // after SOC, SIZ marker and Lsiz
  const width = be32(b, s + 2) - be32(b, s + 10);
  const height = be32(b, s + 6) - be32(b, s + 14);
  const components = (b[s + 34] << 8) | b[s + 35];
  let bits = 0;
  for (let c = 0; c < components && s + 36 + 3 * c < b.length; c++) bits = Math.max(bits, (b[s + 36 + 3 * c] & 0x7f) + 1);
  return { width, height, components, bits };
}

/** Image size of a JPEG 2000 frame: a bare codestream, or a JP2 file whose 'jp2c' box holds it. */
function j2kSize(b: Uint8Array): StreamSize {
  if (b[0] === 0xff && b[1] === 0x4f) return sizSegment(b, 0);
  let i = 0;
  while (i + 8 <= b.length) {
    let len = be32(b, i);
    const type = String.fromCharCode(b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
    let head = 8;
    if (len === 1) {
      if (i + 16 > b.length) break;
      len = be32(b, i + 8) * 2 ** 32 + be32(b, i + 12);
      head = 16;
    } else if (len === 0) len = b.length - i;
    if (type === 'jp2c') return sizSegment(b, i + head);
    if (len < head) break;
    i += len;
  }
  throw new Error('JPEG 2000 frame has no codestream (no SIZ marker)');
}

/** Refuses a codestream whose own header disagrees with the data set, before a decoder allocates for it. */
function checkStreamSize(size: StreamSize, g: FrameGeometry, what: string): void {
  if (size.width !== g.columns || size.height !== g.rows || size.components !== g.samplesPerPixel) {
    throw new Error(`${what} frame is ${size.width}x${size.height}x${size.components}, the data set says ${g.columns}x${g.rows}x${g.samplesPerPixel}`);
  }
  if (size.bits > 16) throw new Error(`${what} frame with ${size.bits}-bit samples is not supported`);
}

// ---------------------------------------------------------------- WebAssembly codecs

interface WasmFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): WasmFrameInfo;
  getDecodedBuffer(): Uint8Array;
  getInterleaveMode?(): number;
  delete(): void;
}
interface CharlsModule {
  JpegLSDecoder: new () => WasmDecoder;
}
interface OpenJpegModule {
  J2KDecoder: new () => WasmDecoder;
}
type Factory<T> = (opts: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<T>;

const quiet = { print: (): void => {}, printErr: (): void => {} };
let charls: Promise<CharlsModule> | undefined;
let openjpeg: Promise<OpenJpegModule> | undefined;

function runWasm(dec: WasmDecoder, frame: Uint8Array, g: FrameGeometry, what: string): DecodedFrame {
  try {
    dec.getEncodedBuffer(frame.length).set(frame);
    dec.decode();
    const fi = dec.getFrameInfo();
    if (fi.width !== g.columns || fi.height !== g.rows || fi.componentCount !== g.samplesPerPixel) {
      throw new Error(`${what} frame is ${fi.width}x${fi.height}x${fi.componentCount}, the data set says ${g.columns}x${g.rows}x${g.samplesPerPixel}`);
    }
    const bytes = dec.getDecodedBuffer().slice();
    const n = fi.width * fi.height * fi.componentCount;
    const signed = fi.isSigned === true;
    let samples: RawSamples;
    if (fi.bitsPerSample <= 8) {
      samples = bytes.subarray(0, n);
      if (signed) samples = Int16Array.from(new Int8Array(bytes.buffer, 0, n));
    } else if (fi.bitsPerSample <= 16) {
      samples = signed ? new Int16Array(bytes.buffer, 0, n) : new Uint16Array(bytes.buffer, 0, n);
    } else {
      throw new Error(`${what} frame with ${fi.bitsPerSample}-bit samples is not supported`);
    }
    // CharLS returns planar data for interleave mode 0 (none).
    if (fi.componentCount > 1 && dec.getInterleaveMode?.() === 0) samples = planarToInterleaved(samples, fi.componentCount);
    return { samples, signed, rgb: true };
  } finally {
    dec.delete();
  }
}

export function planarToInterleaved<T extends RawSamples>(src: T, spp: number): T {
  const n = src.length / spp;
  const out = new (src.constructor as new (len: number) => T)(src.length);
  for (let s = 0; s < spp; s++) for (let p = 0; p < n; p++) out[p * spp + s] = src[s * n + p];
  return out;
}

async function decodeJpegLs(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  const info = jpegInfo(frame, (m) => m === 0xf7);
  checkStreamSize({ width: info.width, height: info.height, components: info.components, bits: info.precision }, g, 'JPEG-LS');
  charls ??= (require('@cornerstonejs/codec-charls/decodewasmjs') as Factory<CharlsModule>)(quiet);
  const mod = await charls;
  return runWasm(new mod.JpegLSDecoder(), frame, g, 'JPEG-LS');
}

async function decodeJpeg2000(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  checkStreamSize(j2kSize(frame), g, 'JPEG 2000');
  openjpeg ??= (require('@cornerstonejs/codec-openjpeg/decodewasmjs') as Factory<OpenJpegModule>)(quiet);
  const mod = await openjpeg;
  return runWasm(new mod.J2KDecoder(), frame, g, 'JPEG 2000');
}

/** Decodes one compressed frame. Throws plain Errors; the caller adds the file name. */
export async function decodeCompressedFrame(kind: 'jpeg' | 'jpeg-ls' | 'jpeg2000', frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  if (kind === 'jpeg') return decodeJpeg(frame, g);
  if (kind === 'jpeg-ls') return decodeJpegLs(frame, g);
  return decodeJpeg2000(frame, g);
}
