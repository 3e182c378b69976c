/** Deterministic score/label data sets shared by the AUROC and max-F1 tests. */

import { prng } from './reference.ts';

export interface Case {
  name: string;
  scores: Float32Array | Float64Array;
  labels: Uint8Array;
}

type Gen = (rand: () => number, i: number, label: number) => number;

function make(name: string, n: number, Ctor: typeof Float32Array | typeof Float64Array, positiveRate: number, gen: Gen, seed: number): Case {
  const rand = prng(seed);
  const labels = new Uint8Array(n);
  const scores = new Ctor(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rand() < positiveRate ? 1 : 0;
    scores[i] = gen(rand, i, labels[i]);
  }
  return { name, scores, labels };
}

/** float32 max, min normal, smallest subnormal, both signs, and two ordinary values. */
const EXTREMES = [3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 1.1754943508222875e-38, 0, 1];

/** A float with a random sign, binary exponent in [-30, 30] and a 10-bit mantissa. */
const wideExponent: Gen = (rand, _i, label) => {
  const sign = rand() < 0.5 - 0.2 * label ? -1 : 1;
  const exponent = Math.floor(rand() * 61) - 30;
  return sign * 2 ** exponent * (1 + Math.floor(rand() * 1024) / 1024);
};

const denseNearHalfOrWide: Gen = (r, i, l) => (i % 3 === 0 ? 0.5 + r() / 256 - 0.001 * l : wideExponent(r, i, l));

export function scoreCases(): Case[] {
  const cases: Case[] = [
    make('ties_1e5_f32', 100_000, Float32Array, 0.3, (r, _i, l) => Math.round((r() + 0.3 * l) * 6) / 6, 1),
    make('ties_1e6_f32', 1_000_000, Float32Array, 0.05, (r, _i, l) => Math.floor(20 * (0.7 * r() + 0.25 * l)) / 20, 2),
    make('ties_1e5_f64', 100_000, Float64Array, 0.4, (r, _i, l) => Math.floor(11 * (0.8 * r() + 0.15 * l)) / 11, 3),
    make('random_f32', 200_000, Float32Array, 0.2, (r, _i, l) => r() + r() + 0.4 * l, 4),
    // A ratio of uniforms (heavy tails, no ties); only correctly rounded operations, so numpy rebuilds it bit for bit.
    make('random_f64', 100_000, Float64Array, 0.5, (r, _i, l) => (r() - 0.5) / (r() + 1e-3) + 0.3 * l, 5),
    make('separated', 1000, Float32Array, 0.3, (r, _i, l) => 0.5 * r() + 0.5 * l, 6),
    make('inverted', 1000, Float64Array, 0.3, (r, _i, l) => 0.5 * r() + 0.5 * (1 - l), 7),
    make('signed_zeros', 1000, Float32Array, 0.5, (r) => [-0, 0, -1e-30, 1e-30, -1, 1][Math.floor(r() * 6)], 8),
    make('signed_zeros_f64', 1000, Float64Array, 0.5, (r) => [-0, 0, -1, 1][Math.floor(r() * 4)], 9),
    make('extremes', 5000, Float32Array, 0.4, (r) => EXTREMES[Math.floor(r() * EXTREMES.length)], 10),
    // One dense mixed bucket near 0.5 (count tables) plus many sparse ones (sorting).
    make('wide_exponents', 60_000, Float32Array, 0.3, denseNearHalfOrWide, 11),
    make(
      'large_store_path',
      1_100_000, // above the 2^20 one-shot sort limit
      Float32Array,
      0.1,
      (r, i, l) => (i % 2 === 0 ? Math.floor(4096 * (r() * 0.8 + 0.2 * l)) / 4096 : wideExponent(r, i, l) + 0.5 * l),
      12,
    ),
    make('tiny_3', 3, Float32Array, 0.5, (r) => Math.round(r() * 2), 13),
    make('one_class_negative', 100, Float32Array, 0, (r) => r(), 14),
    make('one_class_positive', 100, Float64Array, 1, (r) => r(), 15),
  ];
  const labels255 = make('labels_255', 10_000, Float32Array, 0.3, (r, _i, l) => Math.round(10 * (r() + 0.2 * l)), 16);
  for (let i = 0; i < labels255.labels.length; i++) if (labels255.labels[i]) labels255.labels[i] = i % 2 ? 255 : 17;
  cases.push(labels255);
  // Make sure the tiny case has both classes.
  const tiny = cases.find((c) => c.name === 'tiny_3') as Case;
  tiny.labels.set([0, 1, 0]);
  return cases;
}
