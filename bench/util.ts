// Small helpers shared by the benchmarks.
export function randn(n: number, seed: number, scale: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const th = 2 * Math.PI * next();
    out[i] = r * Math.cos(th) * scale;
    if (i + 1 < n) out[i + 1] = r * Math.sin(th) * scale;
  }
  return out;
}

export async function timeit(fn: () => Promise<unknown> | unknown, warmup: number, reps: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
