/**
 * AU-PRO: area under the per-region-overlap curve up to a false-positive-rate limit, normalised by
 * the limit, as defined for MVTec AD (Bergmann et al., IJCV 2021) and computed by its evaluation code.
 *
 * - Regions are the 8-connected components of each ground-truth mask (scipy.ndimage.label with a
 *   3 × 3 structure in the MVTec code; anomalib labels with OpenCV/kornia, also 8-connected).
 * - For every threshold t among the distinct scores (all maps pooled; ties are equal float32 values),
 *   predicted anomalous = score >= t. FPR = false positives / all normal pixels of all maps;
 *   PRO = mean over all regions of all maps of (predicted pixels in region / region size).
 * - The curve (0,0), (FPR_t, PRO_t) by decreasing t, (1,1) is integrated with the trapezoidal rule up
 *   to `fprLimit`; when no point lies exactly at the limit, the last segment is cut there with a
 *   linearly interpolated PRO. The area is divided by `fprLimit`.
 *
 * FPR values are exact ratios in float64. (The MVTec script casts them to float32, which moves its
 * result by ~1e-7 at most; anomalib resamples per-region curves on a grid, a further approximation.)
 */

import { labelComponents8 } from './connected-components.ts';
import { radixSortPairs } from './radix-sort.ts';
import { assertFiniteScores, float32Bits, float32BitsToKey } from './score-keys.ts';

/** Trapezoidal area of a non-decreasing-x polyline, cut at `xMax` like the MVTec `trapezoid`. */
class TrapezoidToLimit {
  private px = 0;
  private py = 0;
  private sum = 0;
  private limitHit = false;
  done = false;

  constructor(private readonly xMax: number) {}

  push(x: number, y: number): void {
    if (this.done) return;
    if (x <= this.xMax) {
      this.sum += 0.5 * (y + this.py) * (x - this.px);
      this.px = x;
      this.py = y;
      if (x === this.xMax) this.limitHit = true;
      return;
    }
    if (!this.limitHit) {
      const yAtLimit = this.py + ((y - this.py) * (this.xMax - this.px)) / (x - this.px);
      this.sum += 0.5 * (yAtLimit + this.py) * (this.xMax - this.px);
    }
    this.done = true;
  }

  get area(): number {
    return this.sum;
  }
}

/**
 * AU-PRO of anomaly `maps` against ground-truth `masks` (row-major `width × height`, mask pixel 0 =
 * normal, other = anomalous), integrated up to `fprLimit` (default 0.3) and divided by it.
 *
 * Memory: about 16 bytes per pixel of all maps together, for the pooled sort. Throws a RangeError on
 * mismatched sizes, NaN/±Infinity scores, a limit outside (0, 1], no anomalous region or no normal
 * pixel.
 */
export function aupro(maps: readonly Float32Array[], masks: readonly Uint8Array[], width: number, height: number, fprLimit = 0.3): number {
  if (maps.length !== masks.length) {
    throw new RangeError(`got ${maps.length} maps but ${masks.length} masks`);
  }
  if (!(fprLimit > 0 && fprLimit <= 1)) throw new RangeError(`fprLimit must be in (0, 1], got ${fprLimit}`);
  const pixels = width * height;
  const total = maps.length * pixels;
  const keys = new Uint32Array(total);
  const regions = new Uint32Array(total); // 0 = normal pixel, else global region number
  const inverseSizes: number[] = [0];
  let normalPixels = 0;
  maps.forEach((map, k) => {
    if (map.length !== pixels) throw new RangeError(`map ${k} has ${map.length} pixels, expected ${pixels}`);
    try {
      assertFiniteScores(map);
    } catch (e) {
      throw e instanceof RangeError ? new RangeError(`map ${k}: ${e.message}`) : e;
    }
    const { labels, count, sizes } = labelComponents8(masks[k], width, height);
    const base = inverseSizes.length - 1;
    for (let r = 1; r <= count; r++) inverseSizes.push(1 / sizes[r]);
    normalPixels += sizes[0];
    const bits = float32Bits(map);
    const offset = k * pixels;
    for (let i = 0; i < pixels; i++) {
      keys[offset + i] = float32BitsToKey(bits[i]);
      regions[offset + i] = labels[i] === 0 ? 0 : base + labels[i];
    }
  });
  const regionCount = inverseSizes.length - 1;
  if (regionCount === 0) throw new RangeError('AU-PRO is not defined without anomalous regions in the masks');
  if (normalPixels === 0) throw new RangeError('AU-PRO is not defined without normal pixels in the masks');

  const sorted = radixSortPairs(keys, regions);
  const inv = Float64Array.from(inverseSizes);
  const curve = new TrapezoidToLimit(fprLimit);
  let falsePositives = 0;
  let overlapSum = 0;
  let i = total - 1;
  while (i >= 0 && !curve.done) {
    const key = sorted.keys[i];
    for (; i >= 0 && sorted.keys[i] === key; i--) {
      const r = sorted.values[i];
      if (r === 0) falsePositives++;
      else overlapSum += inv[r];
    }
    curve.push(falsePositives / normalPixels, Math.min(overlapSum / regionCount, 1));
  }
  curve.push(1, 1);
  return curve.area / fprLimit;
}
