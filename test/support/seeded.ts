// One seeded generator shared with scripts/fixtures/seeded.py, so that random test weights and inputs are generated
// identically (bit for bit) in TypeScript and in the Python reference scripts, and only reference OUTPUTS are committed.
//
// Value i (0-based) of the stream for a 32-bit seed: offset + (2·u_i − 1)·scale, rounded once to float32, where
// u_i = k_i / 2^32 and k_i is the (i+1)-th output of mulberry32(seed) (src/util/random.ts). Every float64 step is exact
// (2·u − 1) or rounded once (·scale, + offset), and no transcendental function is used, so both languages agree bit for bit.
// A named tensor gets its own stream: seed = streamSeed(base, name) = FNV-1a 32 of the UTF-8 bytes of `${base}:${name}`.

/** The raw mulberry32 outputs k_1..k_n (u = k / 2^32), as src/util/random.ts computes them. */
export function mulberry32Words(seed: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return out;
}

/** n values offset + (2u − 1)·scale in float32: uniform on [offset − scale, offset + scale). */
export function seededStream(seed: number, n: number, scale: number, offset = 0): Float32Array {
  const k = mulberry32Words(seed, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * (k[i] / 4294967296) - 1) * scale + offset;
  return out;
}

/** n values in [0, 1): k / 2^32 rounded to float32 (test images). */
export function seededUnit(seed: number, n: number): Float32Array {
  return Float32Array.from(mulberry32Words(seed, n), (k) => k / 4294967296);
}

/** The stream seed of a named tensor: FNV-1a (32 bit) of the UTF-8 bytes of `${base}:${name}`. */
export function streamSeed(base: number, name: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(`${base}:${name}`)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h >>> 0;
}
