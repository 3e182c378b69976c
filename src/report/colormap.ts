// Colour maps with matplotlib's semantics: `cmap(Normalize(vmin, vmax)(x), bytes=True)[..., :3]`.
//
// - 'jet' is matplotlib's LinearSegmentedColormap (the map most anomaly-detection papers use), sampled
//   into a 256-entry table exactly as `matplotlib.colors._create_lookup_table` does.
// - 'viridis' and 'turbo' are matplotlib's 256-entry ListedColormaps.
// - Normalisation follows `matplotlib.colors.Normalize` (float32 arithmetic for float32 maps), a value
//   picks table entry floor(t * 256) (t == 1 picks the last one), values below / above the range take
//   the first / last colour, NaN is matplotlib's "bad" colour (transparent black; black here).
// - Byte conversion truncates like matplotlib (`(lut * 255).astype(np.uint8)`).

import type { ScoreArray } from '../eval/index.ts';
import { TURBO_DATA, VIRIDIS_DATA } from './colormap-data.ts';

export type ColormapName = 'jet' | 'viridis' | 'turbo';

export const COLORMAP_NAMES: readonly ColormapName[] = ['jet', 'viridis', 'turbo'];

/** Value range mapped onto the colour map: `min` to the first colour, `max` to the last. */
export interface ValueRange {
  min: number;
  max: number;
}

/** A fixed range, or 'auto' for the map's own minimum and maximum (NaN ignored). */
export type RangeSpec = ValueRange | 'auto';

/** Number of entries of every colour table (matplotlib's default `N`). */
export const LUT_SIZE = 256;

type Segment = readonly (readonly [number, number, number])[];

/** matplotlib `_cm._jet_data`. */
const JET_SEGMENTS: readonly [Segment, Segment, Segment] = [
  [
    [0.0, 0, 0],
    [0.35, 0, 0],
    [0.66, 1, 1],
    [0.89, 1, 1],
    [1.0, 0.5, 0.5],
  ],
  [
    [0.0, 0, 0],
    [0.125, 0, 0],
    [0.375, 1, 1],
    [0.64, 1, 1],
    [0.91, 0, 0],
    [1.0, 0, 0],
  ],
  [
    [0.0, 0.5, 0.5],
    [0.11, 1, 1],
    [0.34, 1, 1],
    [0.65, 0, 0],
    [1.0, 0, 0],
  ],
];

/** `matplotlib.colors._create_lookup_table(N, data, gamma=1.0)` in double precision. */
function segmentLut(n: number, seg: Segment): Float64Array {
  const x = seg.map((r) => r[0] * (n - 1));
  const y0 = seg.map((r) => r[1]);
  const y1 = seg.map((r) => r[2]);
  const lut = new Float64Array(n);
  lut[0] = y1[0];
  lut[n - 1] = y0[y0.length - 1];
  const step = 1 / (n - 1); // np.linspace(0, 1, n): i * step, last element set to 1
  for (let i = 1; i < n - 1; i++) {
    const xi = (n - 1) * (i * step);
    let j = 0;
    while (j < x.length && x[j] < xi) j++; // np.searchsorted(x, xi, side='left')
    const distance = (xi - x[j - 1]) / (x[j] - x[j - 1]);
    lut[i] = distance * (y0[j] - y1[j - 1]) + y1[j - 1];
  }
  for (let i = 0; i < n; i++) lut[i] = Math.min(1, Math.max(0, lut[i]));
  return lut;
}

function toBytes(rgb: (i: number, c: number) => number): Uint8Array {
  const out = new Uint8Array(LUT_SIZE * 3);
  for (let i = 0; i < LUT_SIZE; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.trunc(rgb(i, c) * 255);
  return out;
}

const lutCache = new Map<ColormapName, Uint8Array>();

/** The 256 x RGB byte table of a colour map (matplotlib's `cmap(np.arange(256), bytes=True)[:, :3]`). */
export function colormapLut(cmap: ColormapName): Uint8Array {
  const hit = lutCache.get(cmap);
  if (hit) return hit;
  let lut: Uint8Array;
  if (cmap === 'jet') {
    const chans = JET_SEGMENTS.map((s) => segmentLut(LUT_SIZE, s));
    lut = toBytes((i, c) => chans[c][i]);
  } else if (cmap === 'viridis') {
    lut = toBytes((i, c) => VIRIDIS_DATA[i * 3 + c]);
  } else if (cmap === 'turbo') {
    lut = toBytes((i, c) => TURBO_DATA[i * 3 + c]);
  } else {
    throw new RangeError(`unknown colour map '${String(cmap)}' (expected one of ${COLORMAP_NAMES.join(', ')})`);
  }
  lutCache.set(cmap, lut);
  return lut;
}

/** Minimum and maximum of the finite values, ignoring NaN (as `np.nanmin` / `np.nanmax`). */
export function autoRange(map: ScoreArray): ValueRange {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) throw new RangeError('cannot take an automatic range: the map has no non-NaN value');
  return { min, max };
}

/** Resolves a RangeSpec and checks it (finite, min <= max). */
export function resolveRange(map: ScoreArray, range: RangeSpec): ValueRange {
  const r = range === 'auto' ? autoRange(map) : range;
  if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) {
    throw new RangeError(`colour range must be finite (got min ${r.min}, max ${r.max})`);
  }
  if (r.min > r.max) throw new RangeError(`colour range min ${r.min} is greater than max ${r.max}`);
  return { min: r.min, max: r.max };
}

/** Table index of a normalised value, or -1 for NaN (matplotlib `Colormap.__call__`). */
function lutIndex(t: number): number {
  if (Number.isNaN(t)) return -1;
  const xa = t * LUT_SIZE; // exact: LUT_SIZE is a power of two
  if (xa < 0) return 0; // under -> first colour
  if (xa >= LUT_SIZE) return LUT_SIZE - 1; // == N is the last colour; over -> last colour
  return Math.trunc(xa);
}

/**
 * Table index (0..255) of every value, -1 for NaN, computed as matplotlib does: Normalize in float32 for
 * float32 input (`x - f32(vmin)`, divided by `f32(vmax - vmin)`), float64 otherwise; a degenerate
 * range (min == max) maps everything to index 0.
 */
export function colormapIndices(map: ScoreArray, range: RangeSpec): Int16Array {
  const { min, max } = resolveRange(map, range);
  const out = new Int16Array(map.length);
  if (min === max) {
    for (let i = 0; i < map.length; i++) out[i] = Number.isNaN(map[i]) ? -1 : 0;
    return out;
  }
  if (map instanceof Float32Array) {
    const lo = Math.fround(min);
    const span = Math.fround(max - min);
    for (let i = 0; i < map.length; i++) out[i] = lutIndex(Math.fround(Math.fround(map[i] - lo) / span));
  } else {
    const span = max - min;
    for (let i = 0; i < map.length; i++) out[i] = lutIndex((map[i] - min) / span);
  }
  return out;
}

function checkDims(length: number, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`invalid map size ${width}x${height}`);
  }
  if (length !== width * height) throw new RangeError(`map has ${length} values, expected ${width}x${height}`);
}

/**
 * Colours a row-major `width` x `height` map: interleaved RGB bytes (3 per value). `range` fixes the
 * values mapped to the ends of the colour map (use one range for every map of a run so colours are
 * comparable), or 'auto' for this map's own min/max. NaN values become black.
 */
export function colorize(map: ScoreArray, width: number, height: number, range: RangeSpec, cmap: ColormapName = 'jet'): Uint8Array {
  checkDims(map.length, width, height);
  const lut = colormapLut(cmap);
  const idx = colormapIndices(map, range);
  const out = new Uint8Array(map.length * 3);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i];
    if (k < 0) continue;
    out[i * 3] = lut[k * 3];
    out[i * 3 + 1] = lut[k * 3 + 1];
    out[i * 3 + 2] = lut[k * 3 + 2];
  }
  return out;
}
