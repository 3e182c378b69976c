/**
 * Min–max normalisation over a whole test set, as MVFA does before fusing its zero-shot and few-shot
 * scores: `(x - min) / (max - min)` with min and max taken over every map (or image score) at once.
 */

import { assertFiniteScores, type ScoreArray } from './score-keys.ts';

/** Smallest and largest value. */
export interface Range {
  min: number;
  max: number;
}

/**
 * Minimum and maximum over all elements of all arrays. Throws a RangeError when there is no element
 * at all or when a value is NaN or ±Infinity (naming the array and index).
 */
export function minMax(arrays: readonly ScoreArray[]): Range {
  let min = Infinity;
  let max = -Infinity;
  let seen = 0;
  arrays.forEach((a, k) => {
    try {
      assertFiniteScores(a);
    } catch (e) {
      throw e instanceof RangeError ? new RangeError(`array ${k}: ${e.message}`) : e;
    }
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    seen += a.length;
  });
  if (seen === 0) throw new RangeError('minMax needs at least one value');
  return { min, max };
}

/**
 * Maps `a` in place to `(a - min) / (max - min)`.
 *
 * Float32Array input is computed with float32 rounding at every step (difference, range, quotient),
 * so the result is bit-identical to the same expression on numpy float32 arrays; Float64Array input
 * uses float64 arithmetic. When `max === min` (constant scores) every element becomes 0, where numpy
 * would produce NaN from 0/0: a constant score carries no ranking information, and 0 keeps later
 * fusion and metrics well defined. Returns `a`.
 */
export function normalizeInPlace<T extends ScoreArray>(a: T, min: number, max: number): T {
  if (Number.isNaN(min) || Number.isNaN(max)) throw new RangeError('min and max must not be NaN');
  if (a instanceof Float32Array) {
    const lo = Math.fround(min);
    const hi = Math.fround(max);
    if (hi === lo) return a.fill(0) as T;
    const range = Math.fround(hi - lo);
    // Each operation on two float32 values in float64 then rounded to float32 is the correctly
    // rounded float32 operation (float64 has more than 2·24 + 2 significand bits).
    for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i] - lo) / range;
    return a;
  }
  if (max === min) return a.fill(0) as T;
  const range = max - min;
  for (let i = 0; i < a.length; i++) a[i] = (a[i] - min) / range;
  return a;
}
