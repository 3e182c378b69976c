/**
 * Benchmark of the streaming exact AUROC at BrainMRI test-set scale: 3 715 maps of 240 × 240 pixels
 * (≈ 214 M float32 scores with uint8 labels), fed as one chunk per map.
 *
 * Scores are deterministic (seeded PRNG) and tie-heavy: each is one of 65 536 float32 levels
 * (k / 65536), spread over many top-16-bit buckets that hold both classes. Because of that the exact
 * AUROC is also computed independently from a 65 536-level histogram, as a check.
 *
 * Reported:
 * - auroc_214m_s: wall-clock seconds spent in AurocAccumulator.add over all chunks plus result();
 * - auroc_214m_cpu_s: CPU seconds (user + system, whole process) over the same calls, which is less
 *   sensitive to other load on the machine;
 * - auroc_214m_extra_mb: peak resident-memory increase during that work, in MB (10^6 bytes);
 * - auroc_214m_value, auroc_214m_check_abs_diff: the AUROC and |AUROC - histogram AUROC|;
 * - host_load_1m: the machine's 1-minute load average at the start, since other processes sharing
 *   the cores inflate the timings.
 *
 * Run directly: node --import tsx bench/metrics.ts
 */

import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { AurocAccumulator } from '../src/eval/auroc.ts';
import { mulberry32 as prng } from '../src/util/random.ts';

const IMAGES = 3715;
const SIDE = 240;
const PIXELS = SIDE * SIDE;
const LEVELS = 65536;

/** Fills one synthetic map: a disc-shaped anomaly in ~40 % of maps, overlapping score levels. */
function fillMap(rand: () => number, scores: Float32Array, labels: Uint8Array, histogram: Float64Array): void {
  labels.fill(0);
  if (rand() < 0.4) {
    const cx = rand() * SIDE;
    const cy = rand() * SIDE;
    const r = 5 + rand() * 40;
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(SIDE, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(SIDE, Math.ceil(cx + r)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) labels[y * SIDE + x] = 1;
      }
    }
  }
  for (let i = 0; i < PIXELS; i++) {
    const u = rand();
    const level = labels[i] ? Math.floor(LEVELS * (0.25 + 0.75 * u)) : Math.floor(LEVELS * 0.75 * u * u);
    scores[i] = level / LEVELS; // exact in float32
    histogram[2 * level + labels[i]]++;
  }
}

/** Exact AUROC from per-level (negative, positive) counts, ascending levels. */
function aurocFromHistogram(histogram: Float64Array): number {
  let negBelow = 0;
  let twiceU = 0n;
  let positives = 0;
  for (let level = 0; level < LEVELS; level++) {
    const neg = histogram[2 * level];
    const pos = histogram[2 * level + 1];
    twiceU += BigInt(pos) * BigInt(2 * negBelow + neg);
    negBelow += neg;
    positives += pos;
  }
  return Number(twiceU) / (2 * positives * negBelow);
}

export async function benchMetrics(): Promise<Record<string, number>> {
  const load = loadavg()[0];
  const rand = prng(20240611);
  const scores = new Float32Array(PIXELS);
  const labels = new Uint8Array(PIXELS);
  const histogram = new Float64Array(2 * LEVELS);
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let seconds = 0;
  let cpuMicros = 0;

  const acc = new AurocAccumulator();
  for (let image = 0; image < IMAGES; image++) {
    fillMap(rand, scores, labels, histogram);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    acc.add(scores, labels);
    const c = process.cpuUsage(c0);
    seconds += (performance.now() - t0) / 1000;
    cpuMicros += c.user + c.system;
    if (image % 16 === 0) peak = Math.max(peak, process.memoryUsage.rss());
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const auroc = acc.result();
  const c = process.cpuUsage(c0);
  seconds += (performance.now() - t0) / 1000;
  cpuMicros += c.user + c.system;
  peak = Math.max(peak, process.memoryUsage.rss());

  const check = aurocFromHistogram(histogram);
  return {
    auroc_214m_s: seconds,
    auroc_214m_cpu_s: cpuMicros / 1e6,
    auroc_214m_extra_mb: (peak - baseline) / 1e6,
    auroc_214m_pixels: acc.count,
    auroc_214m_value: auroc,
    auroc_214m_check_abs_diff: Math.abs(auroc - check),
    host_load_1m: load,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchMetrics(), null, 2));
}
