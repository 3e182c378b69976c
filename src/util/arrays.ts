// Typed-array helpers with no imports: usable from every layer.

/** Concatenates arrays of one kind into a fresh array (bytes, floats, …). */
export function concatArrays(parts: readonly Uint8Array[]): Uint8Array;
export function concatArrays(parts: readonly Float32Array[]): Float32Array;
export function concatArrays(parts: readonly (Uint8Array | Float32Array)[]): Uint8Array | Float32Array {
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = parts[0] instanceof Float32Array ? new Float32Array(total) : new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
