// The deterministic adapters and inputs of scripts/fixtures/mvfa_ref.py (--init-seeded, --seeded-inputs), built
// from the shared seeded generator so that the committed references in fixtures/mvfa-ref apply to them.
import { type AdapterPair, type AdapterSet } from '../../src/mvfa/adapters.ts';
import { seededStream, seededUnit, streamSeed } from '../support/seeded.ts';

/** Tensor `{head}_adapters.{j}.{fc}.0.weight` is the stream streamSeed(seed, name), scale 1/√fan_in (nn.Linear's bound). */
export function seededAdapters(width: number, bottleneck: number, levels: readonly number[], seed: number): AdapterSet {
  const t = (name: string, rows: number, cols: number) => seededStream(streamSeed(seed, name), rows * cols, 1 / Math.sqrt(cols));
  const head = (h: 'seg' | 'det'): AdapterPair[] =>
    levels.map((_, j) => ({
      fc1: t(`${h}_adapters.${j}.fc1.0.weight`, bottleneck, width),
      fc2: t(`${h}_adapters.${j}.fc2.0.weight`, width, bottleneck),
    }));
  return { width, bottleneck, levels: [...levels], seg: head('seg'), det: head('det') };
}

/** v/‖v‖ in float64 with a sequential sum, rounded to float32 (as mvfa_ref.py's _unit). */
function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const r = Math.sqrt(s);
  return v.map((x) => x / r);
}

export interface SeededInputs {
  /** [n, 3, S, S] in [0, 1). */
  images: Float32Array;
  /** [n, S, S]: rows 10..29 × cols 20..43 in image 0, rows 30..49 × cols 5..24 in image 2. */
  masks: Float32Array;
  labels: Float32Array;
  /** [2, dim]: normal, abnormal (unit rows, cos ≈ 0.97). */
  text: Float32Array;
}

/** mvfa_ref.py's seeded_inputs (the memory-bank support images are images 1 and 2). */
export function seededInputs(seed: number, size: number, dim: number, n = 3): SeededInputs {
  const images = seededUnit(streamSeed(seed, 'images'), n * 3 * size * size);
  const masks = new Float32Array(n * size * size);
  const rect = (i: number, y0: number, y1: number, x0: number, x1: number) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) masks[i * size * size + y * size + x] = 1;
  };
  rect(0, 10, 30, 20, 44);
  if (n > 2) rect(2, 30, 50, 5, 25);
  const a = seededStream(streamSeed(seed, 'text_a'), dim, 0.5);
  const d = seededStream(streamSeed(seed, 'text_d'), dim, 0.125);
  const text = new Float32Array([...unit(a), ...unit(a.map((x, i) => x + d[i]))]);
  return { images, masks, labels: Float32Array.from([1, 0, 1].slice(0, n)), text };
}
