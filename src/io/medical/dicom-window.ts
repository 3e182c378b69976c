// VOI windowing (DICOM PS3.3 C.11.2.1.2 and C.11.2.1.3) and the mapping of modality values to 8 bits.

export type VoiLutFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface DicomWindow {
  center: number;
  width: number;
}

/**
 * The VOI LUT function applied to `values` with output range [yMin, yMax], in float64:
 * - LINEAR (C.11.2.1.2.1): x <= c - 0.5 - (w-1)/2 -> yMin; x > c - 0.5 + (w-1)/2 -> yMax;
 *   else ((x - (c - 0.5)) / (w - 1) + 0.5) * (yMax - yMin) + yMin. Requires w >= 1.
 * - LINEAR_EXACT (C.11.2.1.3.2): the same with c and w unmodified. Requires w > 0.
 * - SIGMOID (C.11.2.1.3.1): (yMax - yMin) / (1 + exp(-4 (x - c) / w)) + yMin. Requires w > 0.
 */
export function applyVoi(values: ArrayLike<number>, win: DicomWindow, fn: VoiLutFunction = 'LINEAR', yMin = 0, yMax = 255): Float64Array {
  const out = new Float64Array(values.length);
  const range = yMax - yMin;
  let { center: c, width: w } = win;
  if (!Number.isFinite(c) || !Number.isFinite(w)) throw new RangeError(`window centre/width must be finite, got ${c}/${w}`);
  if (fn === 'SIGMOID') {
    if (w <= 0) throw new RangeError(`window width must be > 0 for SIGMOID, got ${w}`);
    for (let i = 0; i < values.length; i++) out[i] = range / (1 + Math.exp((-4 * (values[i] - c)) / w)) + yMin;
    return out;
  }
  if (fn === 'LINEAR') {
    if (w < 1) throw new RangeError(`window width must be >= 1 for LINEAR, got ${w}`);
    c -= 0.5;
    w -= 1;
  } else if (w <= 0) {
    throw new RangeError(`window width must be > 0 for LINEAR_EXACT, got ${w}`);
  }
  const lo = c - w / 2;
  const hi = c + w / 2;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    out[i] = x <= lo ? yMin : x > hi ? yMax : ((x - c) / w + 0.5) * range + yMin;
  }
  return out;
}

/** Rounds half up and clamps to 0..255. */
export function toByte(y: number): number {
  const v = Math.floor(y + 0.5);
  return v < 0 ? 0 : v > 255 ? 255 : Number.isNaN(v) ? 0 : v;
}

/**
 * Grey 8-bit samples from modality values: the VOI window when given, else a linear map of the frame's
 * minimum..maximum to 0..255 (all 0 for a constant frame). `invert` (MONOCHROME1) maps y to 255 - y.
 */
export function greyToBytes(values: ArrayLike<number>, win: DicomWindow | undefined, fn: VoiLutFunction, invert: boolean): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n);
  if (win) {
    const y = applyVoi(values, win, fn, 0, 255);
    for (let i = 0; i < n; i++) out[i] = toByte(y[i]);
  } else {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const span = hi - lo;
    if (span > 0) for (let i = 0; i < n; i++) out[i] = toByte(((values[i] - lo) / span) * 255);
  }
  if (invert) for (let i = 0; i < n; i++) out[i] = 255 - out[i];
  return out;
}

/** Colour samples to 8 bits: unchanged for 8 bits stored, else round(v * 255 / (2^bitsStored - 1)). */
export function colourToBytes(values: ArrayLike<number>, bitsStored: number): Uint8Array {
  const out = new Uint8Array(values.length);
  const max = 2 ** bitsStored - 1;
  for (let i = 0; i < values.length; i++) out[i] = bitsStored <= 8 ? toByte(values[i]) : toByte((values[i] * 255) / max);
  return out;
}
