/**
 * Order-preserving integer keys for float32 scores, and the input checks shared by the metrics.
 *
 * A float32 bit pattern maps to a uint32 key whose unsigned order is the numeric order of the floats:
 * non-negative floats get the sign bit set, negative floats have all bits inverted. -0 is first folded
 * onto +0 so that the two zeros are one tie, as they are for numpy/sklearn comparisons.
 */

/** Scores accepted by the one-shot metrics. */
export type ScoreArray = Float32Array | Float64Array;

const SIGN_BIT = 0x80000000;
const ABS_MASK = 0x7fffffff;
const EXPONENT_ALL_ONES = 0x7f800000;

/** Order-preserving uint32 key of a float32 bit pattern (given as a uint32). */
export function float32BitsToKey(bits: number): number {
  const b = bits === SIGN_BIT ? 0 : bits | 0; // -0 -> +0
  return (b ^ ((b >> 31) | SIGN_BIT)) >>> 0;
}

/** Inverse of {@link float32BitsToKey} (returns the bit pattern; -0 comes back as +0). */
export function keyToFloat32Bits(key: number): number {
  const k = key | 0;
  return (k < 0 ? k ^ SIGN_BIT : ~k) >>> 0;
}

/** Uint32 view over the bit patterns of a Float32Array (no copy). */
export function float32Bits(scores: Float32Array): Uint32Array {
  return new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
}

/** Throws a descriptive error when `scores` and `labels` differ in length. */
export function assertSameLength(scoreCount: number, labelCount: number): void {
  if (scoreCount !== labelCount) {
    throw new RangeError(`scores and labels must have the same length (got ${scoreCount} scores and ${labelCount} labels)`);
  }
}

function nonFiniteError(value: number, index: number): Error {
  const what = Number.isNaN(value) ? 'NaN' : String(value);
  return new RangeError(`scores must be finite: found ${what} at index ${index}`);
}

/**
 * Throws on the first NaN or ±Infinity in `scores`, like sklearn's input validation
 * ("Input contains NaN, infinity ..."). `offset` is added to the reported index.
 */
export function assertFiniteScores(scores: ScoreArray, offset = 0): void {
  if (scores instanceof Float32Array) {
    const bits = float32Bits(scores);
    for (let i = 0; i < bits.length; i++) {
      if ((bits[i] & ABS_MASK) >= EXPONENT_ALL_ONES) throw nonFiniteError(scores[i], offset + i);
    }
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i];
    // v - v is 0 for finite values and NaN for NaN and ±Infinity.
    if (v - v !== 0) throw nonFiniteError(v, offset + i);
  }
}

/**
 * Validates a float32 chunk (finite scores, equal lengths) and returns how many labels are nonzero,
 * in one pass over both arrays.
 */
export function countPositivesOfFiniteChunk(scores: Float32Array, labels: Uint8Array): number {
  assertSameLength(scores.length, labels.length);
  const bits = float32Bits(scores);
  let positives = 0;
  let finite = true;
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & ABS_MASK) >= EXPONENT_ALL_ONES) finite = false;
    positives += (labels[i] + 255) >>> 8; // 0 -> 0, 1..255 -> 1
  }
  if (!finite) assertFiniteScores(scores); // throws, naming the first bad index
  return positives;
}

/** The error sklearn raises for single-class ground truth, reused verbatim. */
export const ONE_CLASS_MESSAGE = 'Only one class present in y_true. ROC AUC score is not defined in that case.';
