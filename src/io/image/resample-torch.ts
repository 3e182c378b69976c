// PyTorch (CPU) interpolation emulated in float32.
//
// `resizeAntialiasFloat32` follows `F.interpolate(x, size, mode='bicubic'|'bilinear', antialias=True,
// align_corners=False)` (aten `_upsample_{bicubic,bilinear}2d_aa`): per-axis Pillow-style weights
// computed in float32 (`HelperInterpBase::_compute_weights_aa`), normalised by their float sum, then a
// separable pass over the last axis (width) followed by the height axis; an axis whose size is
// unchanged is skipped. Each `Math.fround` below marks a float32 rounding of the C++ code.

const f = Math.fround;

/**
 * float32 fused multiply-add `a * b + c` (one rounding): torch's CPU kernels are built for AVX2 /
 * AVX-512 with FMA contraction, so `acc += t * w` and similar expressions round once. The product of
 * two float32 values is exact in double; the sum is rounded to double and then to float32 (a double
 * rounding that can differ from a true fused result only on exact float32 ties).
 */
function fmaF(a: number, b: number, c: number): number {
  return f(a * b + c);
}

export type TorchAaMode = 'bicubic' | 'bilinear';

/** Per-output-pixel taps along one axis: `size[i]` weights starting at input index `min[i]`. */
export interface AxisWeights {
  inSize: number;
  outSize: number;
  /** Maximum number of taps per output pixel (row stride of `weights`). */
  ksize: number;
  min: Int32Array;
  size: Int32Array;
  /** float32 weights, `ksize` per output pixel. */
  weights: Float32Array;
}

/** `HelperInterpCubic::aa_filter` (a = -0.5); `x` is a float32 value, the result is rounded to float32. */
function cubicAa(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return f(((a + 2.0) * x - (a + 3.0)) * x * x + 1);
  if (x < 2.0) return f(fmaF(fmaF(f(x - 5), x, 8), x, -4) * a);
  return 0.0;
}

/** `HelperInterpLinear::aa_filter`. */
function linearAa(x: number): number {
  if (x < 0.0) x = -x;
  return x < 1.0 ? f(1.0 - x) : 0.0;
}

/** Weights of torch's anti-aliased interpolation along one axis (align_corners=False, no scale factor). */
export function torchAntialiasWeights(inSize: number, outSize: number, mode: TorchAaMode = 'bicubic'): AxisWeights {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new RangeError(`invalid interpolation sizes ${inSize} -> ${outSize}`);
  }
  const interpSize = mode === 'bicubic' ? 4 : 2;
  const filter = mode === 'bicubic' ? cubicAa : linearAa;
  const scale = f(inSize / outSize); // area_pixel_compute_scale<float>
  const support = scale >= 1.0 ? f(interpSize * 0.5 * scale) : f(interpSize * 0.5);
  const ksize = Math.ceil(support) * 2 + 1;
  const invscale = scale >= 1.0 ? f(1.0 / scale) : 1.0;
  const min = new Int32Array(outSize);
  const size = new Int32Array(outSize);
  const weights = new Float32Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    const center = f(scale * (i + 0.5));
    const xmin = Math.max(Math.trunc(f(center - support) + 0.5), 0);
    const xsize = Math.min(Math.trunc(f(center + support) + 0.5), inSize) - xmin;
    let total = 0;
    const base = i * ksize;
    for (let j = 0; j < xsize; j++) {
      const w = filter(f((f(j + xmin - center) + 0.5) * invscale));
      weights[base + j] = w;
      total = f(total + w);
    }
    if (total !== 0) {
      for (let j = 0; j < xsize; j++) weights[base + j] = f(weights[base + j] / total);
    }
    min[i] = xmin;
    size[i] = xsize;
  }
  return { inSize, outSize, ksize, min, size, weights };
}

/**
 * Accumulation model of torch's `interpolate_aa_single_dim*` loops (`out = t0*w0; out += tj*wj`) as
 * compiled in the reference build (GCC, AVX2 kernels): the taps after the first are consumed in
 * blocks of four whose products are rounded before the in-order additions (vectorised multiply);
 * the remaining taps use fused multiply-adds. Other builds differ by a few float32 ulps.
 */
function fusedTap(j: number, n: number): boolean {
  return j > n - 1 - ((n - 1) % 4);
}

/** One separable pass along the last axis of a [rows, inSize] float32 block. */
function passLastAxis(src: Float32Array, rows: number, w: AxisWeights): Float32Array {
  const { inSize, outSize, ksize, min, size, weights } = w;
  const out = new Float32Array(rows * outSize);
  for (let r = 0; r < rows; r++) {
    const s = r * inSize;
    const o = r * outSize;
    for (let i = 0; i < outSize; i++) {
      const kb = i * ksize;
      const p = s + min[i];
      const n = size[i];
      let acc = f(src[p] * weights[kb]);
      for (let j = 1; j < n; j++) {
        acc = fusedTap(j, n) ? fmaF(src[p + j], weights[kb + j], acc) : f(acc + f(src[p + j] * weights[kb + j]));
      }
      out[o + i] = acc;
    }
  }
  return out;
}

/** One separable pass along the middle axis of a [planes, inSize, cols] float32 block. */
function passMiddleAxis(src: Float32Array, planes: number, cols: number, w: AxisWeights): Float32Array {
  const { inSize, outSize, ksize, min, size, weights } = w;
  const out = new Float32Array(planes * outSize * cols);
  for (let c = 0; c < planes; c++) {
    const sPlane = c * inSize * cols;
    const oPlane = c * outSize * cols;
    for (let i = 0; i < outSize; i++) {
      const kb = i * ksize;
      const o = oPlane + i * cols;
      const s0 = sPlane + min[i] * cols;
      const w0 = weights[kb];
      for (let x = 0; x < cols; x++) out[o + x] = f(src[s0 + x] * w0);
      const n = size[i];
      for (let j = 1; j < n; j++) {
        const wj = weights[kb + j];
        const sj = s0 + j * cols;
        if (fusedTap(j, n)) {
          for (let x = 0; x < cols; x++) out[o + x] = fmaF(src[sj + x], wj, out[o + x]);
        } else {
          for (let x = 0; x < cols; x++) out[o + x] = f(out[o + x] + f(src[sj + x] * wj));
        }
      }
    }
  }
  return out;
}

/**
 * `F.interpolate(x[None], (outH, outW), mode, antialias=True, align_corners=False)[0]` for a
 * contiguous float32 tensor x of shape [channels, inH, inW]. Returns [channels, outH, outW].
 */
export function resizeAntialiasFloat32(
  src: Float32Array,
  channels: number,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
  mode: TorchAaMode = 'bicubic',
): Float32Array {
  if (src.length !== channels * inH * inW) {
    throw new RangeError(`tensor has ${src.length} values, expected ${channels}x${inH}x${inW}`);
  }
  let cur = src;
  if (outW !== inW) cur = passLastAxis(cur, channels * inH, torchAntialiasWeights(inW, outW, mode));
  if (outH !== inH) cur = passMiddleAxis(cur, channels, outW, torchAntialiasWeights(inH, outH, mode));
  return cur === src ? src.slice() : cur;
}

/**
 * [outSize, inSize] matrix M (row-major) with `y = M x` equal to
 * `F.interpolate(x, outSize, mode='linear'/'bilinear', align_corners=True)` along one axis
 * (torch's float32 source index and lambdas; `compute_source_index_and_lambda`).
 */
export function bilinearAlignCornersMatrix(inSize: number, outSize: number): Float32Array {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new RangeError(`invalid interpolation sizes ${inSize} -> ${outSize}`);
  }
  const m = new Float32Array(outSize * inSize);
  if (inSize === outSize) {
    for (let i = 0; i < outSize; i++) m[i * inSize + i] = 1;
    return m;
  }
  const scale = outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0;
  for (let i = 0; i < outSize; i++) {
    // real = scale * i is not rounded to float32 before the truncation and the subtraction (it is
    // exact in double precision; torch's reference build keeps it so).
    const real = scale * i;
    const i0 = Math.trunc(real);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = f(Math.min(Math.max(real - i0, 0), 1));
    const l0 = f(1 - l1);
    m[i * inSize + i0] = f(m[i * inSize + i0] + l0);
    m[i * inSize + i1] = f(m[i * inSize + i1] + l1);
  }
  return m;
}

function sparseRows(m: Float32Array, outSize: number, inSize: number): AxisWeights {
  let ksize = 1;
  const min = new Int32Array(outSize);
  const size = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    let lo = -1;
    let hi = -1;
    for (let j = 0; j < inSize; j++) {
      if (m[i * inSize + j] !== 0) {
        if (lo < 0) lo = j;
        hi = j;
      }
    }
    if (lo < 0) lo = hi = 0;
    min[i] = lo;
    size[i] = hi - lo + 1;
    ksize = Math.max(ksize, size[i]);
  }
  const weights = new Float32Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    for (let j = 0; j < size[i]; j++) weights[i * ksize + j] = m[i * inSize + min[i] + j];
  }
  return { inSize, outSize, ksize, min, size, weights };
}

/** Width pass of `applySeparableFloat32`: torch's 2-tap `t0 * w0 + t1 * w1` contracts to fma(t0, w0, t1 * w1). */
function sparseLastAxis(src: Float32Array, rows: number, w: AxisWeights): Float32Array {
  const { inSize, outSize, ksize, min, size, weights } = w;
  const out = new Float32Array(rows * outSize);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < outSize; i++) {
      out[r * outSize + i] = dot(src, r * inSize + min[i], 1, weights, i * ksize, size[i]);
    }
  }
  return out;
}

function sparseMiddleAxis(src: Float32Array, planes: number, cols: number, w: AxisWeights): Float32Array {
  const { inSize, outSize, ksize, min, size, weights } = w;
  const out = new Float32Array(planes * outSize * cols);
  for (let c = 0; c < planes; c++) {
    for (let i = 0; i < outSize; i++) {
      const s0 = (c * inSize + min[i]) * cols;
      const o = (c * outSize + i) * cols;
      for (let x = 0; x < cols; x++) out[o + x] = dot(src, s0 + x, cols, weights, i * ksize, size[i]);
    }
  }
  return out;
}

function dot(src: Float32Array, s: number, stride: number, w: Float32Array, k: number, n: number): number {
  if (n === 2) return fmaF(src[s], w[k], f(src[s + stride] * w[k + 1]));
  let acc = f(src[s] * w[k]);
  for (let j = 1; j < n; j++) acc = fmaF(src[s + j * stride], w[k + j], acc);
  return acc;
}

/**
 * Applies per-axis interpolation matrices to a [channels, inH, inW] float32 tensor: the width pass
 * (`mw`, [outW, inW]) first, then the height pass (`mh`, [outH, inH]), in float32 over the non-zero
 * span of each matrix row. With `bilinearAlignCornersMatrix` this is bit-exact with torch's CPU
 * `F.interpolate(mode='bilinear', align_corners=True)` in the reference build (two taps per row,
 * evaluated as fma(t0, w0, t1 * w1)); rows with more taps are accumulated in index order with fused
 * multiply-adds.
 */
export function applySeparableFloat32(src: Float32Array, channels: number, inH: number, inW: number, mh: Float32Array, mw: Float32Array): Float32Array {
  if (src.length !== channels * inH * inW) {
    throw new RangeError(`tensor has ${src.length} values, expected ${channels}x${inH}x${inW}`);
  }
  if (mh.length % inH !== 0 || mw.length % inW !== 0) throw new RangeError('matrix shapes do not match the tensor');
  const outH = mh.length / inH;
  const outW = mw.length / inW;
  const tmp = sparseLastAxis(src, channels * inH, sparseRows(mw, outW, inW));
  return sparseMiddleAxis(tmp, channels, outW, sparseRows(mh, outH, inH));
}

/** `F.interpolate(x[None], (outH, outW), mode='bilinear', align_corners=True)[0]` for x of shape [channels, inH, inW]. */
export function resizeBilinearAlignCornersFloat32(src: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  return applySeparableFloat32(src, channels, inH, inW, bilinearAlignCornersMatrix(inH, outH), bilinearAlignCornersMatrix(inW, outW));
}
