// Axial slices of a NIfTI volume as 8-bit grey rasters.
//
// Orientation. Slice k is the plane of the third voxel axis (k). In each raster, column c is voxel
// index i = c and row r is j = nj - 1 - r (j increases upwards): the volume as stored, shown the way
// `np.flipud(vol[:, :, k].T)` or matplotlib's `imshow(vol[:, :, k].T, origin='lower')` shows it. For
// the common RAS+ / LAS+ storage this puts anterior at the top. With orientation 'canonical' the volume
// is first reoriented to the closest RAS+ axes (nibabel's `as_closest_canonical`): columns then run
// towards the patient's right (neurological convention: the patient's right on the image's right),
// anterior is at the top, and slices go from inferior to superior, whatever the storage order.

import type { NiftiVolume } from './nifti.ts';
import { ioOrientation } from './nifti-orient.ts';
import type { RasterU8 } from '../image/resample.ts';

/** Display range: explicit min/max, a centre/width (min = c - w/2, max = c + w/2), or 'auto'. */
export type NiftiWindow = { min: number; max: number } | { center: number; width: number } | 'auto';

export interface NiftiSliceOptions {
  /** Default 'auto': the 0.5th and 99.5th percentiles of the finite voxels of the selected 3-D volume. */
  window?: NiftiWindow;
  /** Index of the 3-D volume in a 4-D (or higher) image, over dims 4.. in file order (default 0). */
  volume?: number;
  /** 'stored' (default) or 'canonical' (closest RAS+); see the file comment. */
  orientation?: 'stored' | 'canonical';
}

function swap(a: Float32Array | Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** Rearranges `a` so that a[k] is the k-th smallest value, smaller ones before it and larger after. */
function select(a: Float32Array | Float64Array, k: number): void {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) swap(a, i++, j--);
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Percentiles (0..100) of the finite values, with numpy's default 'linear' method (including its
 * two-sided interpolation formula), without sorting the whole array.
 */
export function niftiPercentiles(values: ArrayLike<number>, qs: readonly number[]): number[] {
  let n = 0;
  // float32 values are copied as float32 (exactly, at half the memory of a float64 copy).
  const a = values instanceof Float32Array ? new Float32Array(values.length) : new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) a[n++] = values[i];
  if (n === 0) return qs.map(() => NaN);
  const v = a.subarray(0, n);
  return qs.map((q) => {
    const idx = (n - 1) * (q / 100);
    const prev = Math.max(0, Math.min(n - 1, Math.floor(idx)));
    const next = Math.min(n - 1, prev + 1);
    const t = idx - prev;
    select(v, prev);
    const lo = v[prev];
    let hi = lo;
    if (next !== prev) {
      hi = Infinity;
      for (let i = prev + 1; i < n; i++) if (v[i] < hi) hi = v[i];
    }
    const d = hi - lo;
    return t >= 0.5 ? hi - d * (1 - t) : lo + d * t;
  });
}

function range(w: NiftiWindow, vol: ArrayLike<number>): [number, number] {
  if (w === 'auto') {
    const [lo, hi] = niftiPercentiles(vol, [0.5, 99.5]);
    return [lo, hi];
  }
  if ('min' in w) return [w.min, w.max];
  return [w.center - w.width / 2, w.center + w.width / 2];
}

/**
 * One 8-bit grey raster per axial slice (k = 0 .. nz-1): y = (x - min) / (max - min) * 255, rounded
 * half up and clipped to 0..255 (a voxel above min becomes 255 when max <= min; NaN becomes 0).
 */
export function niftiAxialSlices(vol: NiftiVolume, opts: NiftiSliceOptions = {}): RasterU8[] {
  const [ni, nj, nk] = [0, 1, 2].map((a) => vol.dims[a] ?? 1);
  const per = ni * nj * nk;
  const total = vol.data.length / per;
  const t = opts.volume ?? 0;
  if (!Number.isInteger(t) || t < 0 || t >= total) {
    throw new RangeError(`${vol.file}: volume ${t} out of range: the image has ${total} volume${total === 1 ? '' : 's'}`);
  }
  const data = vol.data.subarray(t * per, (t + 1) * per);
  const [lo, hi] = range(opts.window ?? 'auto', data);
  const span = hi - lo;

  // For each display axis (0 = columns, 1 = rows before the flip, 2 = slices): voxel stride, size, direction.
  const strides = [1, ni, ni * nj];
  const sizes = [ni, nj, nk];
  let src = [0, 1, 2].map((a) => ({ stride: strides[a], n: sizes[a], flip: false }));
  if (opts.orientation === 'canonical') {
    const o = ioOrientation(vol.affine);
    src = [0, 1, 2].map((w) => {
      const a = o.findIndex((x) => x.axis === w);
      return { stride: strides[a], n: sizes[a], flip: o[a].flip === -1 };
    });
  }
  const [X, Y, Z] = src;
  const width = X.n;
  const height = Y.n;
  const out: RasterU8[] = [];
  for (let z = 0; z < Z.n; z++) {
    const bytes = new Uint8Array(width * height);
    const zOff = Z.stride * (Z.flip ? Z.n - 1 - z : z);
    for (let r = 0; r < height; r++) {
      const y = height - 1 - r;
      const rowOff = zOff + Y.stride * (Y.flip ? Y.n - 1 - y : y);
      for (let c = 0; c < width; c++) {
        const x = data[rowOff + X.stride * (X.flip ? X.n - 1 - c : c)];
        let b = 0;
        if (span > 0) {
          b = Math.floor(((x - lo) / span) * 255 + 0.5);
          b = b < 0 ? 0 : b > 255 ? 255 : b;
        } else if (x > lo) {
          b = 255;
        }
        bytes[r * width + c] = Number.isNaN(x) ? 0 : b;
      }
    }
    out.push({ width, height, channels: 1, data: bytes });
  }
  return out;
}
