/** Stable LSD radix sort of uint32 keys carrying a uint32 payload. */

const DIGITS = [
  { shift: 0, bits: 11 },
  { shift: 11, bits: 11 },
  { shift: 22, bits: 10 },
];

/** Sorted copies (or the inputs, reordered) of `keys` ascending with `values` moved alongside. */
export interface SortedPairs {
  keys: Uint32Array;
  values: Uint32Array;
}

/**
 * Sorts `keys` ascending, moving `values` with them; equal keys keep their input order. Uses two
 * scratch arrays of the same length; the input arrays are overwritten. Passes whose digit is the
 * same for every key are skipped.
 */
export function radixSortPairs(keys: Uint32Array, values: Uint32Array): SortedPairs {
  const n = keys.length;
  if (values.length !== n) throw new RangeError('keys and values must have the same length');
  const hists = DIGITS.map((d) => new Float64Array(1 << d.bits));
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    hists[0][k & 0x7ff]++;
    hists[1][(k >>> 11) & 0x7ff]++;
    hists[2][k >>> 22]++;
  }
  let srcK = keys;
  let srcV = values;
  let dstK: Uint32Array | null = null;
  let dstV: Uint32Array | null = null;
  for (let d = 0; d < DIGITS.length; d++) {
    const hist = hists[d];
    if (n === 0 || hist.some((c) => c === n)) continue; // one digit value everywhere: already in order
    const offsets = new Float64Array(hist.length);
    for (let b = 1; b < hist.length; b++) offsets[b] = offsets[b - 1] + hist[b - 1];
    const outK = dstK ?? new Uint32Array(n);
    const outV = dstV ?? new Uint32Array(n);
    const mask = (1 << DIGITS[d].bits) - 1;
    const shift = DIGITS[d].shift;
    for (let i = 0; i < n; i++) {
      const k = srcK[i];
      const j = offsets[(k >>> shift) & mask]++;
      outK[j] = k;
      outV[j] = srcV[i];
    }
    dstK = srcK;
    dstV = srcV;
    srcK = outK;
    srcV = outV;
  }
  return { keys: srcK, values: srcV };
}
