// Exact float16 / bfloat16 → float32 decoding (bit-level, so subnormals, infinities and NaN payloads survive).

let f16Table: Uint32Array | undefined;

/** float32 bit pattern of every float16 bit pattern (65536 entries, built once). */
function float16Table(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = float16BitsToFloat32Bits(h);
  f16Table = table;
  return table;
}

/** float32 bit pattern for one float16 bit pattern. */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 → 127
  if (mant === 0) return sign >>> 0; // ±0
  // subnormal: value = mant * 2^-24; normalise the mantissa
  let e = 113; // exponent field of 2^-14 in float32 is 127 - 14 = 113
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** Decodes float16 bit patterns to float32 values. */
export function float16BitsToFloat32(src: Uint16Array): Float32Array {
  const table = float16Table();
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
  return out;
}

/** Decodes bfloat16 bit patterns (the upper half of a float32) to float32 values. */
export function bfloat16BitsToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** Rounds a 64-bit integer to the nearest float32 (ties to even), without double rounding through float64. */
export function int64ToFloat32(v: bigint): number {
  const neg = v < 0n;
  let m = neg ? -v : v;
  if (m < 9007199254740992n) return Math.fround(neg ? -Number(m) : Number(m));
  // keep 24 significant bits, round half to even on the dropped bits
  const bitLen = m.toString(2).length;
  const drop = BigInt(bitLen - 24);
  const kept = m >> drop;
  const rest = m - (kept << drop);
  const half = 1n << (drop - 1n);
  m = kept;
  if (rest > half || (rest === half && (kept & 1n) === 1n)) m += 1n;
  const r = Number(m) * 2 ** Number(drop);
  return Math.fround(neg ? -r : r);
}
