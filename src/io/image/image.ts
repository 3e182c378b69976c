// Image decoding and preprocessing matching the reference MVFA data pipeline:
//   Image.open(p).convert('RGB') -> transforms.Resize((240, 240), BICUBIC) -> ToTensor()
// for images, and Resize((240, 240), NEAREST) -> ToTensor() -> > 0.5 for masks.
//
// Decoding uses sharp (libvips) for PNG, JPEG, TIFF, WebP and GIF, and a small built-in decoder for
// uncompressed BMP. Samples are taken as stored: no ICC transform, no EXIF auto-rotation, alpha
// dropped without compositing (all as Pillow). PNG, TIFF, GIF, BMP and lossless WebP decode
// bit-exactly like Pillow. JPEG and lossy WebP go through libjpeg(-turbo)/libwebp, whose versions
// (sharp's bundled ones vs the system libraries under Pillow) may round some samples differently:
// the tests accept +-1 for JPEG and +-2 for lossy WebP (identical output was measured with sharp
// 0.35 against Pillow 9.4 on Debian 12).
// CMYK, Lab and floating-point inputs are converted to 8-bit sRGB by libvips, not by Pillow's rules.
// 16-bit images: see `Bit16Mode` ('pil' default, 'scale' alternative).

import { readFile, writeFile } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo, type SharpOptions } from 'sharp';

import { bmpSize, decodeBmp, isBmp } from './image-bmp.ts';
import { rasterToTensor, toGrey8, toRgb8, type Bit16Mode, type DecodedImage } from './image-convert.ts';
import { resizeNearestUint8, resizeUint8, type RasterU8 } from './resample.ts';

export { rgbToGrey, toGrey8, toRgb8, rasterToTensor, type Bit16Mode, type DecodedImage } from './image-convert.ts';

/** Pillow's `Image.MAX_IMAGE_PIXELS` (1024 * 1024 * 1024 // 4 // 3). */
export const PIL_MAX_IMAGE_PIXELS = 89478485;
/** Images with more pixels than this are refused (Pillow raises DecompressionBombError above 2x). */
export const IMAGE_PIXEL_LIMIT = 2 * PIL_MAX_IMAGE_PIXELS;

/** CLIP's normalisation constants (OpenAI CLIP preprocessing). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

export class ImageDecodeError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string, what = 'cannot decode image') {
    super(`${file}: ${what} (${reason})`);
    this.name = 'ImageDecodeError';
    this.file = file;
    this.reason = reason;
  }
}

export type ImageInput = string | Uint8Array;

export interface DecodeOptions {
  /** Name used in error messages when the input is a buffer. */
  name?: string;
  /** Pixel-count limit (default IMAGE_PIXEL_LIMIT). */
  maxPixels?: number;
}

function describeSharpError(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  if (/unsupported image format/i.test(msg)) return 'unsupported or unrecognised image format';
  if (/corrupt header/i.test(msg)) return 'corrupt or truncated header';
  if (/premature end|truncated|not enough data|unexpected end|end of (file|stream)|read error/i.test(msg)) {
    return `truncated or corrupt data: ${msg}`;
  }
  return msg || 'unknown decoder error';
}

async function readInput(input: ImageInput, name: string): Promise<Uint8Array> {
  if (typeof input !== 'string') return input;
  try {
    return await readFile(input);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ImageDecodeError(name, reason, 'cannot read file');
  }
}

function checkPixels(name: string, width: number, height: number, limit: number): void {
  if (width * height > limit) {
    throw new ImageDecodeError(
      name,
      `image has ${width * height} pixels (${width}x${height}), more than the limit of ${limit}; possible decompression bomb`,
      'refusing to decode image',
    );
  }
}

/** Width and height from a PNG's IHDR chunk, checked before anything is decoded. */
function pngSize(buf: Uint8Array): { width: number; height: number } | null {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (buf.length < 24 || sig.some((b, i) => buf[i] !== b)) return null;
  if (String.fromCharCode(buf[12], buf[13], buf[14], buf[15]) !== 'IHDR') return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

type SpaceChoice = { space: 'b-w' | 'grey16' | 'srgb' | 'rgb16'; depth: 'uchar' | 'ushort' };

function chooseSpace(meta: Metadata): SpaceChoice {
  const sixteen = meta.depth === 'ushort';
  if (meta.space === 'b-w' && meta.depth === 'uchar') return { space: 'b-w', depth: 'uchar' };
  if (meta.space === 'grey16' && sixteen) return { space: 'grey16', depth: 'ushort' };
  if (meta.space === 'rgb16' && sixteen) return { space: 'rgb16', depth: 'ushort' };
  // 8-bit sRGB as stored; anything else (CMYK, Lab, float TIFF, ...) is converted to 8-bit sRGB by
  // libvips, which differs from Pillow's own conversions for those rare inputs.
  return { space: 'srgb', depth: 'uchar' };
}

function fromSharpRaw(data: Buffer, info: OutputInfo, sixteen: boolean, hadAlpha: boolean, format: string): DecodedImage {
  const { width, height } = info;
  const inCh = info.channels;
  const outCh: 1 | 3 = inCh >= 3 ? 3 : 1;
  const n = width * height;
  const src = sixteen ? new Uint16Array(n * inCh) : new Uint8Array(n * inCh);
  if (sixteen) {
    // sharp returns 16-bit samples in native byte order; copy through an aligned buffer.
    new Uint8Array(src.buffer).set(data.subarray(0, n * inCh * 2));
  } else {
    src.set(data.subarray(0, n * inCh));
  }
  let out = src;
  if (inCh !== outCh) {
    out = sixteen ? new Uint16Array(n * outCh) : new Uint8Array(n * outCh);
    for (let i = 0; i < n; i++) for (let c = 0; c < outCh; c++) out[i * outCh + c] = src[i * inCh + c];
  }
  return { width, height, channels: outCh, bitDepth: sixteen ? 16 : 8, data: out, hadAlpha, format };
}

/**
 * Decodes an image file or buffer to its stored samples: 1 (grey) or 3 (RGB) channels, 8 or 16 bits,
 * alpha removed, palette expanded. Errors name the file: `<file>: cannot decode image (<reason>)`.
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const name = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  const limit = opts.maxPixels ?? IMAGE_PIXEL_LIMIT;
  const buf = await readInput(input, name);
  if (buf.length === 0) throw new ImageDecodeError(name, 'empty file, 0 bytes');
  if (isBmp(buf)) {
    try {
      const { width, height } = bmpSize(buf);
      checkPixels(name, width, height, limit);
      const bmp = decodeBmp(buf);
      return { width: bmp.width, height: bmp.height, channels: 3, bitDepth: 8, data: bmp.rgb, hadAlpha: bmp.hadAlpha, format: 'bmp' };
    } catch (err) {
      if (err instanceof ImageDecodeError) throw err;
      throw new ImageDecodeError(name, (err as Error).message);
    }
  }
  const png = pngSize(buf);
  if (png) checkPixels(name, png.width, png.height, limit);
  const sharpOpts: SharpOptions = { failOn: 'error', limitInputPixels: false, ignoreIcc: true };
  let meta: Metadata;
  try {
    meta = await sharp(buf, sharpOpts).metadata();
  } catch (err) {
    throw new ImageDecodeError(name, describeSharpError(err));
  }
  if (!meta.width || !meta.height) throw new ImageDecodeError(name, 'image has no dimensions');
  checkPixels(name, meta.width, meta.height, limit);
  const choice = chooseSpace(meta);
  try {
    const { data, info } = await sharp(buf, sharpOpts).toColourspace(choice.space).raw({ depth: choice.depth }).toBuffer({ resolveWithObject: true });
    return fromSharpRaw(data, info, choice.depth === 'ushort', meta.hasAlpha === true, meta.format ?? 'unknown');
  } catch (err) {
    throw new ImageDecodeError(name, describeSharpError(err));
  }
}

export interface RgbLoadOptions {
  bit16?: Bit16Mode;
}

/** `Image.open(p).convert('RGB')` as an interleaved 8-bit raster. */
export async function loadImageRgb8(input: ImageInput, opts: RgbLoadOptions & DecodeOptions = {}): Promise<RasterU8> {
  return toRgb8(await decodeImage(input, opts), opts.bit16 ?? 'pil');
}

export interface TensorLoadOptions extends RgbLoadOptions, DecodeOptions {
  /** Output side length (MVFA's is MVFA_DEFAULTS.imageSize). */
  size: number;
  /** 'none' (default, as MVFA: values in [0, 1]) or 'clip' (CLIP mean/std normalisation). */
  normalize?: 'none' | 'clip';
}

export interface ImageTensor {
  /** float32 [3, size, size], channel-major. */
  tensor: Float32Array;
  /** Size of the decoded image before resampling. */
  width: number;
  height: number;
}

/**
 * MVFA image preprocessing: `convert('RGB')` -> `Resize((size, size), BICUBIC)` (Pillow, bit-exact;
 * images already size x size are not resampled) -> `ToTensor()` [-> CLIP Normalize].
 */
export async function loadImageTensor(input: ImageInput, opts: TensorLoadOptions): Promise<ImageTensor> {
  const size = opts.size;
  if (opts.normalize !== undefined && opts.normalize !== 'none' && opts.normalize !== 'clip') {
    throw new RangeError(`unknown normalisation '${String(opts.normalize)}'`);
  }
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`invalid size ${size}`);
  const rgb = await loadImageRgb8(input, opts);
  const resized = rgb.width === size && rgb.height === size ? rgb : resizeUint8(rgb, size, size, 'bicubic');
  const norm = opts.normalize === 'clip' ? { mean: CLIP_MEAN, std: CLIP_STD } : undefined;
  return { tensor: rasterToTensor(resized, norm), width: rgb.width, height: rgb.height };
}

/**
 * MVFA mask preprocessing: `Resize((size, size), NEAREST)` -> `ToTensor()` -> `> 0.5`; returns
 * size*size bytes, 1 = anomaly. 8-bit masks: value >= 128 (value / 255 > 0.5). 16-bit grey masks:
 * value >= 1 (ToTensor leaves Pillow's 'I' mode unscaled). Colour masks are first reduced to grey
 * with Pillow's `convert('L')` (Pillow's pipeline would keep 3 channels). Deliberate deviations for
 * odd mask formats: palette masks are expanded to their colours (Pillow's pipeline would threshold the
 * palette index), and 1-bit masks count white as anomaly (ToTensor would read Pillow's mode '1' as
 * 0/1 and 1/255 never exceeds 0.5, giving an empty mask).
 */
export async function loadMask(input: ImageInput, size: number, opts: DecodeOptions = {}): Promise<Uint8Array> {
  const img = await decodeImage(input, opts);
  const n = img.width * img.height;
  const bin = new Uint8Array(n);
  if (img.bitDepth === 16 && img.channels === 1 && !img.hadAlpha) {
    for (let i = 0; i < n; i++) bin[i] = img.data[i] > 0 ? 1 : 0;
  } else {
    const grey = toGrey8(img, 'pil').data;
    for (let i = 0; i < n; i++) bin[i] = grey[i] >= 128 ? 1 : 0;
  }
  // Nearest-neighbour selection commutes with a per-pixel threshold.
  const raster: RasterU8 = { width: img.width, height: img.height, channels: 1, data: bin };
  if (img.width === size && img.height === size) return bin;
  return resizeNearestUint8(raster, size, size).data;
}

/** Encodes an interleaved 8-bit grey (1), grey+alpha (2), RGB (3) or RGBA (4) raster as PNG; writes it when `path` is given. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, path?: string): Promise<Buffer> {
  if (data.length !== width * height * channels) {
    throw new RangeError(`PNG data has ${data.length} bytes, expected ${width}x${height}x${channels}`);
  }
  let img = sharp(data, { raw: { width, height, channels } });
  if (channels <= 2) img = img.toColourspace('b-w');
  const png = await img.png().toBuffer();
  if (path !== undefined) await writeFile(path, png);
  return png;
}
