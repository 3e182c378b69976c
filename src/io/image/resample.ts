// Exact re-implementations of the resamplers the reference MVFA pipeline relies on.
//
// 1. Pillow's separable resampler (libImaging/Resample.c, `ImagingResample`) on 8-bit images,
//    including its fixed-point arithmetic, the uint8 intermediate between the horizontal and the
//    vertical pass, the skipped pass when a dimension is unchanged, and the row window of the
//    horizontal pass. `Image.NEAREST` is not part of that resampler: Pillow routes it through
//    `ImagingScaleAffine` (libImaging/Geometry.c), reproduced by `resizeNearestUint8`.
// 2. PyTorch's anti-aliased interpolation (`F.interpolate(..., antialias=True, align_corners=False)`,
//    aten `_upsample_bicubic2d_aa` / `_upsample_bilinear2d_aa` on CPU), computed in float32 with the
//    same rounding steps as the C++ code.
// 3. The [out, in] matrix of `F.interpolate(mode='bilinear', align_corners=True)` along one axis.

import { pillowFilter, type PillowFilterName } from './resample-filters.ts';

export type { PillowFilterName } from './resample-filters.ts';

/** Interleaved 8-bit raster (row-major, `channels` samples per pixel). */
export interface RasterU8 {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Pillow resampling filters (`Image.Resampling`). */
export type PillowResample = 'nearest' | PillowFilterName;

/** Optional source box `[x0, y0, x1, y1]` as in `Image.resize(size, resample, box)`. */
export type ResampleBox = readonly [number, number, number, number];

const PRECISION_BITS = 32 - 8 - 2;
const ONE_FIXED = 1 << PRECISION_BITS;
const HALF_FIXED = 1 << (PRECISION_BITS - 1);

interface PillowCoeffs {
  ksize: number;
  /** Per output pixel: first input index and number of taps. */
  bounds: Int32Array;
  /** Double-precision weights, `ksize` per output pixel. */
  kk: Float64Array;
}

/** `precompute_coeffs` of Resample.c (double precision, box coordinates are C floats). */
function precomputeCoeffs(inSize: number, in0: number, in1: number, outSize: number, filterName: PillowFilterName): PillowCoeffs {
  const filter = pillowFilter(filterName);
  const scale = Math.fround(Math.fround(in1) - Math.fround(in0)) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Float64Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const ss = 1.0 / filterscale;
  const in0d = Math.fround(in0);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0d + (xx + 0.5) * scale;
    let ww = 0.0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      kk[base + x] = w;
      ww += w;
    }
    if (ww !== 0.0) {
      for (let x = 0; x < xmax; x++) kk[base + x] /= ww;
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** `normalize_coeffs_8bpc`: double weights to fixed point, rounding half away from zero. */
function fixedCoeffs(kk: Float64Array): Int32Array {
  const out = new Int32Array(kk.length);
  for (let i = 0; i < kk.length; i++) {
    const v = kk[i] * ONE_FIXED;
    out[i] = kk[i] < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
  }
  return out;
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** `ImagingResampleHorizontal_8bpc` on rows [offset, offset + outHeight). */
function horizontal8(src: RasterU8, outW: number, outH: number, offset: number, c: PillowCoeffs): RasterU8 {
  const { width: inW, channels: ch, data } = src;
  const k = fixedCoeffs(c.kk);
  const out = new Uint8Array(outW * outH * ch);
  const acc = new Array<number>(ch);
  for (let yy = 0; yy < outH; yy++) {
    const rowBase = (yy + offset) * inW;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = c.bounds[xx * 2];
      const xmax = c.bounds[xx * 2 + 1];
      const kb = xx * c.ksize;
      for (let b = 0; b < ch; b++) acc[b] = HALF_FIXED;
      for (let x = 0; x < xmax; x++) {
        const w = k[kb + x];
        const p = (rowBase + x + xmin) * ch;
        for (let b = 0; b < ch; b++) acc[b] += data[p + b] * w;
      }
      const o = (yy * outW + xx) * ch;
      for (let b = 0; b < ch; b++) out[o + b] = clip8(acc[b]);
    }
  }
  return { width: outW, height: outH, channels: ch, data: out };
}

/** `ImagingResampleVertical_8bpc` (bounds already shifted to the source's first row). */
function vertical8(src: RasterU8, outH: number, c: PillowCoeffs): RasterU8 {
  const { width: w, channels: ch, data } = src;
  const k = fixedCoeffs(c.kk);
  const out = new Uint8Array(w * outH * ch);
  const rowLen = w * ch;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = c.bounds[yy * 2];
    const ymax = c.bounds[yy * 2 + 1];
    const kb = yy * c.ksize;
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let ss = HALF_FIXED;
      for (let y = 0; y < ymax; y++) ss += data[(y + ymin) * rowLen + i] * k[kb + y];
      out[o + i] = clip8(ss);
    }
  }
  return { width: w, height: outH, channels: ch, data: out };
}

function checkRaster(src: RasterU8): void {
  const { width, height, channels, data } = src;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`invalid raster size ${width}x${height}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) {
    throw new RangeError(`invalid channel count ${channels} (1 to 4)`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(`raster data has ${data.length} bytes, expected ${width * height * channels}`);
  }
}

function checkSize(w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new RangeError(`invalid output size ${w}x${h}`);
  }
}

function copyRaster(src: RasterU8): RasterU8 {
  return { width: src.width, height: src.height, channels: src.channels, data: src.data.slice() };
}

/**
 * Pillow's `Image.NEAREST` resize (`ImagingScaleAffine`): source coordinate of output pixel x is
 * `box0 + (x + 0.5) * scale`, accumulated by repeated addition in double precision, then truncated.
 */
export function resizeNearestUint8(src: RasterU8, outW: number, outH: number, box?: ResampleBox): RasterU8 {
  checkRaster(src);
  checkSize(outW, outH);
  if (!box && outW === src.width && outH === src.height) return copyRaster(src);
  const [bx0, by0, bx1, by1] = box ?? [0, 0, src.width, src.height];
  const ax = Math.fround(Math.fround(bx1) - Math.fround(bx0)) / outW;
  const ay = Math.fround(Math.fround(by1) - Math.fround(by0)) / outH;
  const { width: inW, height: inH, channels: ch, data } = src;
  const out = new Uint8Array(outW * outH * ch);
  const xin = new Int32Array(outW).fill(-1);
  let xo = Math.fround(bx0) + ax * 0.5;
  for (let x = 0; x < outW; x++) {
    const xi = xo < 0 ? -1 : Math.trunc(xo);
    if (xi >= 0 && xi < inW) xin[x] = xi;
    xo += ax;
  }
  let yo = Math.fround(by0) + ay * 0.5;
  for (let y = 0; y < outH; y++) {
    const yi = yo < 0 ? -1 : Math.trunc(yo);
    if (yi >= 0 && yi < inH) {
      for (let x = 0; x < outW; x++) {
        if (xin[x] < 0) continue;
        const s = (yi * inW + xin[x]) * ch;
        const o = (y * outW + x) * ch;
        for (let b = 0; b < ch; b++) out[o + b] = data[s + b];
      }
    }
    yo += ay;
  }
  return { width: outW, height: outH, channels: ch, data: out };
}

/**
 * `Image.resize((outW, outH), resample)` of Pillow for 8-bit modes without alpha ('L', 'RGB'; any
 * interleaved 1 to 4 channel uint8 raster is resampled channel by channel exactly like Pillow).
 * Bit-exact with Pillow: fixed-point weights (22 fractional bits), rounding bias, clipping, and a
 * uint8 intermediate between the passes. Note that Pillow resizes 'LA'/'RGBA' in premultiplied
 * form; this function does not premultiply.
 */
export function resizeUint8(src: RasterU8, outW: number, outH: number, resample: PillowResample = 'bicubic', box?: ResampleBox): RasterU8 {
  checkRaster(src);
  checkSize(outW, outH);
  const b: ResampleBox = box ?? [0, 0, src.width, src.height];
  if (b[0] < 0 || b[1] < 0 || b[2] > src.width || b[3] > src.height || b[2] < b[0] || b[3] < b[1]) {
    throw new RangeError(`invalid resample box [${b.join(', ')}] for a ${src.width}x${src.height} image`);
  }
  // Image.resize returns a copy when nothing changes; _imaging.c crops when the box has integer
  // coordinates and the same size as the output.
  if (Number.isInteger(b[0]) && Number.isInteger(b[1]) && b[2] - b[0] === outW && b[3] - b[1] === outH) {
    if (b[0] === 0 && b[1] === 0 && outW === src.width && outH === src.height) return copyRaster(src);
    return cropRaster(src, b[0], b[1], outW, outH);
  }
  if (resample === 'nearest') return resizeNearestUint8(src, outW, outH, b);
  return resampleInner(src, outW, outH, resample, b);
}

function cropRaster(src: RasterU8, x0: number, y0: number, w: number, h: number): RasterU8 {
  const ch = src.channels;
  const out = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const s = ((y + y0) * src.width + x0) * ch;
    out.set(src.data.subarray(s, s + w * ch), y * w * ch);
  }
  return { width: w, height: h, channels: ch, data: out };
}

/** `ImagingResampleInner`. */
function resampleInner(src: RasterU8, xsize: number, ysize: number, filter: PillowFilterName, box: ResampleBox): RasterU8 {
  const needH = xsize !== src.width || box[0] !== 0 || box[2] !== xsize;
  const needV = ysize !== src.height || box[1] !== 0 || box[3] !== ysize;
  const vert = precomputeCoeffs(src.height, box[1], box[3], ysize, filter);
  const yFirst = vert.bounds[0];
  const yLast = vert.bounds[ysize * 2 - 2] + vert.bounds[ysize * 2 - 1];
  let cur = src;
  if (needH) {
    const horiz = precomputeCoeffs(src.width, box[0], box[2], xsize, filter);
    for (let i = 0; i < ysize; i++) vert.bounds[i * 2] -= yFirst;
    cur = horizontal8(src, xsize, yLast - yFirst, yFirst, horiz);
  }
  if (needV) cur = vertical8(cur, ysize, vert);
  return cur === src ? copyRaster(src) : cur;
}

// ---------------------------------------------------------------------------------------------
// PyTorch anti-aliased interpolation (float32)
// ---------------------------------------------------------------------------------------------

export { torchAntialiasWeights, resizeAntialiasFloat32, type TorchAaMode, type AxisWeights } from './resample-torch.ts';
export { bilinearAlignCornersMatrix, applySeparableFloat32, resizeBilinearAlignCornersFloat32 } from './resample-torch.ts';
