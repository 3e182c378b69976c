import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../../src/clip/factory.ts';
import { type ClipModel } from '../../src/clip/model.ts';
import { adapterFeeds, initAdapters } from '../../src/mvfa/adapters.ts';
import { compileTrainStep, type LossVariant } from '../../src/mvfa/training-graph.ts';
import { mulberry32 } from '../../src/util/random.ts';

// The whole training step (adapters → frozen blocks → both loss variants) differentiated by the graph layer,
// checked against central differences of the loss in float64-accumulated float32 runs.
let clip: ClipModel;
before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-lossvar-'));
  execFileSync('/usr/bin/python3', [new URL('../../scripts/fixtures/clip_ref.py', import.meta.url).pathname, dir]);
  clip = await loadClip(join(dir, 'tiny.safetensors'));
});

for (const loss of ['code', 'paper'] as LossVariant[]) {
  test(`training-step gradients match finite differences (${loss} losses)`, async (t) => {
    const S = 56;
    const bb = { weights: clip.weights, vision: clip.config.vision, activation: clip.activation };
    const { graph, withGrad } = await compileTrainStep(bb, { levels: [1, 2], bottleneck: 32, imageSize: S, batch: 1, tokens: 17, acOnly: false, loss });
    assert.deepEqual(withGrad.sort(), ['det_fc1_0', 'det_fc1_1', 'det_fc2_0', 'seg_fc1_0', 'seg_fc1_1', 'seg_fc2_0']);
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
    let worst = 0;
    for (const name of ['seg_fc1_0', 'det_fc1_1', 'seg_fc2_0', 'det_fc2_0']) {
      const w = feeds[name];
      const g = base[`grad_${name}`].data;
      // The three entries with the largest gradient: the check is then far above float32 noise.
      const idx = [...g.keys()].sort((x, y) => Math.abs(g[y]) - Math.abs(g[x])).slice(0, 3);
      for (const i of idx) {
        const h = 2e-3;
        const w0 = w[i];
        w[i] = w0 + h;
        const lp = (await graph.run(feeds)).loss.data[0];
        w[i] = w0 - h;
        const lm = (await graph.run(feeds)).loss.data[0];
        w[i] = w0;
        const num = (lp - lm) / (2 * h);
        // float32 losses of O(1–10) resolve differences of ~1e-6, i.e. ~2e-4 in a central difference with h = 2e-3:
        // agreement within 5% plus that absolute noise floor.
        const err = Math.abs(num - g[i]);
        worst = Math.max(worst, err / Math.max(Math.abs(num), 1e-12));
        assert.ok(err < 0.05 * Math.abs(num) + 2e-4, `${loss} ${name}[${i}]: analytic ${g[i]} vs numeric ${num}`);
      }
    }
    t.diagnostic(`worst relative difference ${worst.toExponential(2)} (entries with the largest gradients)`);
    await graph.release();
  });
}
