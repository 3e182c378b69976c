import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../../src/clip/factory.ts';
import { type ClipModel } from '../../src/clip/model.ts';
import { adapterFeeds, initAdapters } from '../../src/mvfa/adapters.ts';
import { compileTrainStep, type LossVariant } from '../../src/mvfa/training-graph.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';

// The whole training step (adapters → frozen blocks → both loss variants) differentiated by the graph layer, checked
// against central differences of the loss in float32 runs. For every one of the six tensors that get a gradient: the
// two entries with the largest gradient, three random entries (among those with a gradient ≥ 10% of the largest),
// and two random directions over the whole tensor.
//
// The loss is the sum of the per-level terms the graph returns (focal_j, dice_j, bce_j), and the difference is taken
// term by term in float64: a term a tensor does not reach does not change at all, so the float32 noise is that of the
// terms it reaches, not that of the total. The noise floor of a check is, for each changed term, 4 ulp of the term
// (at least of 1: terms computed from probabilities near 1 carry that absolute rounding) over 2h. A random entry can
// sit at a kink of the loss (a LeakyReLU pre-activation at 0): there the gradient must equal one of the one-sided
// slopes instead (at most two such entries per run).
const NAMES = ['det_fc1_0', 'det_fc1_1', 'det_fc2_0', 'seg_fc1_0', 'seg_fc1_1', 'seg_fc2_0'];
let clip: ClipModel;
before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-lossvar-'));
  clip = await loadClip(await writeTinyClip(dir));
});

const ulp = (x: number) => 2 ** (Math.floor(Math.log2(Math.abs(x) || 1e-30)) - 23);

for (const loss of ['code', 'paper'] as LossVariant[]) {
  test(`training-step gradients match finite differences on all six tensors (${loss} losses)`, async (t) => {
    const S = 56;
    const bb = { weights: clip.weights, vision: clip.config.vision, activation: clip.activation };
    const { graph, withGrad } = await compileTrainStep(bb, { levels: [1, 2], bottleneck: 32, imageSize: S, batch: 1, tokens: 17, acOnly: false, loss });
    assert.deepEqual([...withGrad].sort(), NAMES);
    const rnd = mulberry32(3);
    const ad = initAdapters(128, 32, [1, 2], 5);
    const a = new Float32Array(32).map(() => rnd() - 0.5);
    const b = a.map((v) => v + (rnd() - 0.5) * 0.3);
    const n = (v: Float32Array) => v.map((x) => x / Math.hypot(...v));
    const mask = new Float32Array(S * S).map((_, i) => (i % S > 20 && i % S < 40 && i > 20 * S && i < 40 * S ? 1 : 0));
    const feeds: Record<string, Float32Array> = {
      stream: new Float32Array(17 * 128).map(() => rnd() * 2 - 1),
      text: new Float32Array([...n(a), ...n(b)]),
      label: Float32Array.of(1),
      mask,
      ...adapterFeeds(ad),
    };
    const base = await graph.run(feeds);
    const termNames = Object.keys(base).filter((k) => /^(focal|dice|bce)_\d+$/.test(k));
    assert.equal(termNames.length, 6, 'focal, dice and BCE terms of two levels');
    const terms = async (): Promise<number[]> => {
      const r = await graph.run(feeds);
      return termNames.map((k) => r[k].data[0]);
    };
    const t0 = await terms();
    const sum = t0.reduce((s, x) => s + x, 0);
    assert.ok(Math.abs(sum - base.loss.data[0]) <= 8 * ulp(sum), `the terms add up to the loss (${sum} vs ${base.loss.data[0]})`);
    /**
     * Loss terms at w ± h along `set`: the central difference with its float32 noise floor, and the slopes to the
     * right and to the left of w (noise floor twice the central one).
     */
    const differences = async (
      h: number,
      set: (sign: 1 | -1 | 0) => void,
    ): Promise<{ numeric: number; floor: number; slopes: [number, number]; sideFloor: number }> => {
      set(1);
      const tp = await terms();
      set(-1);
      const tm = await terms();
      set(0);
      let right = 0;
      let left = 0;
      let noise = 0;
      tp.forEach((p, k) => {
        right += (p - t0[k]) / h;
        left += (t0[k] - tm[k]) / h;
        if (p !== tm[k]) noise += (4 * Math.max(ulp(t0[k]), ulp(1))) / h;
      });
      return { numeric: (right + left) / 2, floor: Math.max(noise / 2, 1e-6), slopes: [right, left], sideFloor: Math.max(noise, 1e-6) };
    };
    /** Agreement of an analytic derivative with a numeric one: 5 % of the numeric value plus the noise floor. */
    const tolerance = (numeric: number, floor: number) => 0.05 * Math.abs(numeric) + floor;
    const kinks: string[] = [];
    const worst = { top: 0, random: 0, topRel: 0 };
    let checked = 0;
    const check = (what: string, analytic: number, d: { numeric: number; floor: number }, kind: 'top' | 'random') => {
      const tol = tolerance(d.numeric, d.floor);
      const err = Math.abs(d.numeric - analytic);
      worst[kind] = Math.max(worst[kind], err / tol);
      if (kind === 'top') worst.topRel = Math.max(worst.topRel, err / Math.abs(d.numeric));
      checked++;
      assert.ok(
        err < tol,
        `${loss} ${what} (${kind === 'top' ? 'largest' : 'random'}): analytic ${analytic} vs numeric ${d.numeric} (noise floor ${d.floor.toExponential(1)})`,
      );
    };
    for (const name of NAMES) {
      const w = feeds[name];
      const g = base[`grad_${name}`].data;
      assert.equal(g.length, w.length, `${name}: gradient length`);
      const top = [...g.keys()].sort((x, y) => Math.abs(g[y]) - Math.abs(g[x])).slice(0, 2);
      const gmax = Math.abs(g[top[0]]);
      const sizable = [...g.keys()].filter((i) => Math.abs(g[i]) >= 0.1 * gmax && !top.includes(i));
      assert.ok(sizable.length >= 3, `${name}: too few entries with a sizable gradient`);
      const random = [0, 1, 2].map(() => sizable[Math.floor(rnd() * sizable.length)]);
      const h = 2e-3;
      for (const [kind, idx] of [
        ['top', top],
        ['random', random],
      ] as const) {
        for (const i of idx) {
          const w0 = w[i];
          const d = await differences(h, (s) => (w[i] = w0 + s * h));
          // A kink (LeakyReLU, a clamp) right at w: the central difference averages the two sides, while the
          // analytic gradient is one of them. Accepted only when the two one-sided slopes differ and the gradient
          // equals one of them.
          if (kind === 'random' && Math.abs(d.numeric - g[i]) >= tolerance(d.numeric, d.floor)) {
            const side = await differences(1e-2, (s) => (w[i] = w0 + s * 1e-2));
            const matches = side.slopes.filter((v) => Math.abs(v - g[i]) < tolerance(v, side.sideFloor));
            if (Math.abs(side.slopes[0] - side.slopes[1]) > 2 * side.sideFloor && matches.length > 0) {
              kinks.push(`${name}[${i}]: ${g[i].toExponential(3)}, one-sided ${side.slopes.map((v) => v.toExponential(3)).join(' / ')}`);
              continue;
            }
          }
          check(`${name}[${i}]`, g[i], d, kind);
        }
      }
      // Two random directions over the whole tensor, (L(w + h·v) − L(w − h·v)) / 2h against g·v: v with entries in
      // [−1, 1), and the same magnitudes with the signs of g (a large derivative that every entry adds to). A smaller
      // step keeps the many adapter pre-activations that move at once from crossing LeakyReLU's kink.
      const hv = 1e-4;
      const r = new Float32Array(w.length).map(() => rnd() * 2 - 1);
      for (const [dir, v] of [
        ['v', r],
        ['|v|·sign(g)', r.map((x, i) => Math.abs(x) * Math.sign(g[i]))],
      ] as const) {
        const w0 = w.slice();
        const d = await differences(hv, (s) => w.forEach((_, i) => (w[i] = w0[i] + s * hv * v[i])));
        w.set(w0);
        check(
          `${name}·${dir}`,
          g.reduce((acc, x, i) => acc + x * v[i], 0),
          d,
          'random',
        );
      }
    }
    assert.ok(kinks.length <= 2, `${loss}: ${kinks.length} random entries at a kink (${kinks.join('; ')})`);
    if (kinks.length) t.diagnostic(`at a kink, gradient equal to one one-sided slope: ${kinks.join('; ')}`);
    t.diagnostic(
      `${checked} checks; worst error as a fraction of the tolerance: largest entries ${worst.top.toFixed(2)}, random entries/directions ${worst.random.toFixed(2)}; largest entries' worst relative difference ${worst.topRel.toExponential(2)}`,
    );
    await graph.release();
  });
}
