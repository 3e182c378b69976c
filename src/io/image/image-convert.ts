// Pixel-format conversions with Pillow's semantics (libImaging/Convert.c, PngImagePlugin rawmodes).

import type { RasterU8 } from './resample.ts';

/** A decoded image: interleaved samples, alpha already removed, palette already expanded. */
export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  bitDepth: 8 | 16;
  data: Uint8Array | Uint16Array;
  /** The file had an alpha channel (dropped without compositing, as PIL's `.convert('RGB')`). */
  hadAlpha: boolean;
  /** Container format as reported by the decoder ('png', 'jpeg', 'tiff', 'webp', 'gif', 'bmp', ...). */
  format: string;
}

/**
 * How 16-bit samples become 8-bit.
 * - 'pil' (default): what `Image.open(f).convert('RGB')` does. A 16-bit greyscale file opens as mode
 *   'I' / 'I;16' and is converted by clipping each value to 0..255 (values >= 255 become white, so a
 *   typical 16-bit scan is mostly saturated). 16-bit RGB(A) and grey+alpha PNGs are read by Pillow
 *   through 8-bit raw modes that keep the high byte (value >> 8).
 * - 'scale': linear map of the full range, round(v * 255 / 65535), for every 16-bit image.
 */
export type Bit16Mode = 'pil' | 'scale';

function to8(v: number, mode: Bit16Mode, clipGrey: boolean): number {
  if (mode === 'scale') return Math.floor((v * 255) / 65535 + 0.5);
  if (clipGrey) return v > 255 ? 255 : v;
  return v >> 8;
}

/** PIL `.convert('RGB')` of a decoded image: grey replicated, 16-bit reduced according to `bit16`. */
export function toRgb8(img: DecodedImage, bit16: Bit16Mode = 'pil'): RasterU8 {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  const src = img.data;
  const clipGrey = img.channels === 1 && !img.hadAlpha;
  if (img.bitDepth === 8) {
    if (img.channels === 3) out.set(src);
    else for (let i = 0, o = 0; i < n; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = src[i];
  } else if (img.channels === 3) {
    for (let i = 0; i < n * 3; i++) out[i] = to8(src[i], bit16, false);
  } else {
    for (let i = 0, o = 0; i < n; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = to8(src[i], bit16, clipGrey);
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** PIL `.convert('L')` of a decoded image (ITU-R 601-2 luma in Pillow's 16.16 fixed point for RGB). */
export function toGrey8(img: DecodedImage, bit16: Bit16Mode = 'pil'): RasterU8 {
  if (img.channels === 1) {
    const n = img.width * img.height;
    const out = new Uint8Array(n);
    if (img.bitDepth === 8) out.set(img.data);
    else for (let i = 0; i < n; i++) out[i] = to8(img.data[i], bit16, !img.hadAlpha);
    return { width: img.width, height: img.height, channels: 1, data: out };
  }
  return rgbToGrey(toRgb8(img, bit16));
}

/** Pillow's `rgb2l`: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. */
export function rgbToGrey(rgb: RasterU8): RasterU8 {
  if (rgb.channels !== 3) throw new RangeError(`expected 3 channels, got ${rgb.channels}`);
  const n = rgb.width * rgb.height;
  const out = new Uint8Array(n);
  const d = rgb.data;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    out[i] = (d[p] * 19595 + d[p + 1] * 38470 + d[p + 2] * 7471 + 0x8000) >>> 16;
  }
  return { width: rgb.width, height: rgb.height, channels: 1, data: out };
}

/**
 * torchvision `ToTensor` (uint8 HWC -> float32 CHW / 255), optionally followed by `Normalize(mean, std)`
 * evaluated in float32 like torch (`(x - mean) / std`).
 */
export function rasterToTensor(img: RasterU8, norm?: { mean: readonly number[]; std: readonly number[] }): Float32Array {
  const { width, height, channels: ch, data } = img;
  const plane = width * height;
  const out = new Float32Array(ch * plane);
  const f = Math.fround;
  for (let c = 0; c < ch; c++) {
    const mean = norm ? f(norm.mean[c]) : 0;
    const std = norm ? f(norm.std[c]) : 1;
    const base = c * plane;
    for (let i = 0; i < plane; i++) {
      const v = f(data[i * ch + c] / 255);
      out[base + i] = norm ? f(f(v - mean) / std) : v;
    }
  }
  return out;
}
