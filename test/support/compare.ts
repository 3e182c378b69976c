// Array comparisons for parity tests. Lengths are compared first: a truncated or empty output never "matches".

export function sameLength(a: ArrayLike<number>, b: ArrayLike<number>, what = 'output'): void {
  if (a.length !== b.length) throw new Error(`${what}: length mismatch: ${a.length} vs ${b.length} (the reference has ${b.length})`);
}

/** Largest |a[i] − b[i]|; NaN at the same index in both counts as equal, NaN in only one gives NaN (never a pass). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, what = 'output'): number {
  sameLength(a, b, what);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** Number of differing elements. */
export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>, what = 'output'): number {
  sameLength(a, b, what);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
