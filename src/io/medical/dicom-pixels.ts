// Native (uncompressed) DICOM pixel data, encapsulated-frame splitting, and the conversion of stored
// sample values to modality values (Bits Stored masking, sign extension, Rescale Slope / Intercept)
// and of YCbCr samples to RGB.

import type { DataSet, Element } from 'dicom-parser';

import type { RawSamples } from './dicom-rle.ts';
import { concatArrays } from '../../util/arrays.ts';

export interface NativeLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  planarConfiguration: number;
  /** YBR_FULL_422 stored uncompressed: two luma samples share one Cb and one Cr (PS3.3 C.7.6.3.1.2). */
  ybr422: boolean;
}

/** Bytes (or, for 1-bit data, bits / 8) that one native frame occupies. */
export function nativeFrameBits(l: NativeLayout): number {
  const n = l.rows * l.columns;
  if (l.ybr422) return n * 2 * l.bitsAllocated;
  return n * l.samplesPerPixel * l.bitsAllocated;
}

/**
 * Stored samples of frame `index` of native pixel data `bytes`, pixel-interleaved. YBR_FULL_422 is
 * expanded to one (Y, Cb, Cr) triple per pixel.
 */
export function nativeFrame(bytes: Uint8Array, l: NativeLayout, index: number, littleEndian: boolean): RawSamples {
  const n = l.rows * l.columns;
  const spp = l.samplesPerPixel;
  const frameBits = nativeFrameBits(l);
  if (l.bitsAllocated === 1) {
    const out = new Uint8Array(n * spp);
    const first = index * frameBits;
    for (let i = 0; i < out.length; i++) {
      const bit = first + i;
      out[i] = (bytes[bit >>> 3] >>> (bit & 7)) & 1;
    }
    return out;
  }
  const frameBytes = frameBits / 8;
  const start = index * frameBytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + start, frameBytes);
  const count = frameBytes / (l.bitsAllocated / 8);
  let raw: RawSamples;
  if (l.bitsAllocated === 8) {
    raw = bytes.slice(start, start + frameBytes);
  } else if (l.bitsAllocated === 16) {
    raw = new Uint16Array(count);
    for (let i = 0; i < count; i++) raw[i] = dv.getUint16(2 * i, littleEndian);
  } else if (l.bitsAllocated === 32) {
    raw = new Uint32Array(count);
    for (let i = 0; i < count; i++) raw[i] = dv.getUint32(4 * i, littleEndian);
  } else {
    throw new Error(`${l.bitsAllocated} bits allocated is not supported`);
  }
  if (l.ybr422) return expandYbr422(raw, n);
  if (spp > 1 && l.planarConfiguration === 1) return planarToPixel(raw, spp);
  return raw;
}

function planarToPixel(src: RawSamples, spp: number): RawSamples {
  const n = src.length / spp;
  const out = new (src.constructor as new (len: number) => RawSamples)(src.length);
  for (let s = 0; s < spp; s++) for (let p = 0; p < n; p++) out[p * spp + s] = src[s * n + p];
  return out;
}

function expandYbr422(src: RawSamples, n: number): RawSamples {
  const out = new (src.constructor as new (len: number) => RawSamples)(n * 3);
  for (let p = 0, i = 0; p < n; p += 2, i += 4) {
    const cb = src[i + 2];
    const cr = src[i + 3];
    out[3 * p] = src[i];
    out[3 * p + 1] = cb;
    out[3 * p + 2] = cr;
    if (p + 1 < n) {
      out[3 * p + 3] = src[i + 1];
      out[3 * p + 4] = cb;
      out[3 * p + 5] = cr;
    }
  }
  return out;
}

// ---------------------------------------------------------------- encapsulated pixel data

function startsCodestream(b: Uint8Array, at: number): boolean {
  // JPEG / JPEG-LS SOI, JPEG 2000 codestream SOC+SIZ, or a JP2 signature box.
  if (b[at] === 0xff && b[at + 1] === 0xd8) return true;
  if (b[at] === 0xff && b[at + 1] === 0x4f && b[at + 2] === 0xff && b[at + 3] === 0x51) return true;
  return b[at] === 0 && b[at + 1] === 0 && b[at + 2] === 0 && b[at + 3] === 0x0c && b[at + 4] === 0x6a && b[at + 5] === 0x50;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concatArrays(parts);
}

/** Index of the first of the (increasing) fragment offsets that is >= x. */
function firstAtOrAfter(offsets: number[], x: number): number {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Splits encapsulated pixel data into frames (PS3.5 A.4): by the Basic (or Extended) Offset Table when
 * there is one, else one fragment per frame when the counts agree, else by the start-of-codestream
 * markers at fragment starts. RLE frames are always a single fragment. Each frame needs at least one
 * fragment, so a file cannot claim more frames than it holds; the work is linear in the fragment count.
 */
export function encapsulatedFrames(ds: DataSet, el: Element, frames: number, rle: boolean): Uint8Array[] {
  const bytes = ds.byteArray;
  const frags = el.fragments ?? [];
  if (frags.length === 0) throw new Error('encapsulated pixel data has no fragments');
  if (frames > frags.length) throw new Error(`encapsulated pixel data holds ${frags.length} fragments, fewer than the ${frames} frames declared`);
  for (const f of frags) {
    if (f.position + f.length > bytes.length) throw new Error('encapsulated pixel data is truncated');
  }
  const fragBytes = frags.map((f) => bytes.subarray(f.position, f.position + f.length));
  if (frames === 1) return [concat(fragBytes)];

  let offsets: number[] | undefined = el.basicOffsetTable && el.basicOffsetTable.length > 0 ? el.basicOffsetTable : undefined;
  const eot = ds.elements.x7fe00001;
  if (!offsets && eot && eot.length >= 8 * frames) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + eot.dataOffset, eot.length);
    offsets = [];
    for (let i = 0; i < frames; i++) offsets.push(Number(dv.getBigUint64(8 * i, true)));
  }
  // Frame k holds fragments [starts[k], ends[k]).
  const starts: number[] = [];
  const ends: number[] = [];
  if (offsets) {
    if (offsets.length !== frames) throw new Error(`offset table has ${offsets.length} entries for ${frames} frames`);
    const fragOffsets = frags.map((f) => f.offset);
    for (let k = 0; k < frames; k++) {
      starts.push(firstAtOrAfter(fragOffsets, offsets[k]));
      ends.push(k + 1 < frames ? Math.max(starts[k], firstAtOrAfter(fragOffsets, offsets[k + 1])) : frags.length);
    }
  } else if (frags.length === frames || rle) {
    for (let k = 0; k < frames; k++) {
      starts.push(k);
      ends.push(k + 1);
    }
  } else {
    for (let i = 0; i < frags.length; i++) {
      if (starts.length === 0 || (starts.length < frames && startsCodestream(fragBytes[i], 0))) {
        starts.push(i);
        ends.push(i + 1);
      } else ends[ends.length - 1] = i + 1;
    }
  }
  const held = starts.filter((s, k) => ends[k] > s).length;
  if (starts.length < frames || held < starts.length) throw new Error(`encapsulated pixel data holds ${held} frames, expected ${frames}`);
  return starts.map((s, k) => concat(fragBytes.slice(s, ends[k])));
}

// ---------------------------------------------------------------- stored values -> modality values

export interface ValueOptions {
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  /** Samples already signed by the decoder. */
  preSigned: boolean;
  slope: number;
  intercept: number;
  rescale: boolean;
}

/**
 * Masks each sample to its Bits Stored (shifted down when High Bit is not Bits Stored - 1), sign-extends
 * it when Pixel Representation is 1, then applies `value * slope + intercept` in float64 when `rescale`.
 */
export function storedToValues(src: RawSamples, o: ValueOptions, out: Float64Array | Float32Array): void {
  const bs = o.bitsStored;
  const shift = Math.max(0, o.highBit - (bs - 1));
  const mod = 2 ** bs;
  const half = 2 ** (bs - 1);
  const signed = o.pixelRepresentation === 1;
  const { slope, intercept, rescale } = o;
  for (let i = 0; i < src.length; i++) {
    let v = src[i];
    if (!o.preSigned) {
      if (shift) v = Math.floor(v / 2 ** shift);
      v %= mod;
      if (signed && v >= half) v -= mod;
    }
    out[i] = rescale ? v * slope + intercept : v;
  }
}

/**
 * YCbCr (YBR_FULL, ITU-R BT.601 full range) to RGB in place on 8-bit values, with the coefficients and
 * float32 arithmetic of pydicom's `convert_color_space`: round half up, clipped to 0..255.
 */
export function ybrFullToRgb(v: Float64Array | Float32Array): void {
  const f = Math.fround;
  const gCb = f((-0.114 * 1.772) / 0.587);
  const gCr = f((-0.299 * 1.402) / 0.587);
  const rCr = f(1.402);
  const bCb = f(1.772);
  const clip = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : x);
  for (let i = 0; i + 2 < v.length; i += 3) {
    const y = f(v[i]);
    const cb = f(v[i + 1] - 128);
    const cr = f(v[i + 2] - 128);
    const r = f(f(y + f(cb * 0)) + f(cr * rCr));
    const g = f(f(y + f(cb * gCb)) + f(cr * gCr));
    const b = f(f(y + f(cb * bCb)) + f(cr * 0));
    v[i] = clip(Math.floor(f(r + 0.5)));
    v[i + 1] = clip(Math.floor(f(g + 0.5)));
    v[i + 2] = clip(Math.floor(f(b + 0.5)));
  }
}
