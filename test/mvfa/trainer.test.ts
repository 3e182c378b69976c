import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../../src/clip/factory.ts';
import { type ClipModel } from '../../src/clip/model.ts';
import { initAdapters } from '../../src/mvfa/adapters.ts';
import { TrainingError, trainAdapters, type TrainSample } from '../../src/mvfa/trainer.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';

let clip: ClipModel;
const S = 56;
before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-trainer-'));
  clip = await loadClip(await writeTinyClip(dir));
});

function sample(name: string, fill: (i: number) => number, label: 0 | 1): TrainSample {
  return { name, image: new Float32Array(3 * S * S).map((_, i) => fill(i)), mask: null, label };
}

test('a non-finite loss stops training with the epoch, step and image that caused it', async () => {
  const bb = { weights: clip.weights, vision: clip.config.vision, activation: clip.activation };
  const init = initAdapters(128, 32, [1, 2], 0);
  const text = new Float32Array(64).map((_, i) => (i < 32 ? 1 : i === 40 ? 1 : 0.9) / 5.6);
  const samples = [sample('fine.png', (i) => (i % 7) / 7, 0), sample('corrupt.png', (i) => (i === 100 ? Number.NaN : 0.5), 1)];
  await assert.rejects(
    trainAdapters(bb, init, text, samples, { epochs: 1, lr: 1e-3, acOnly: false, shuffle: false }),
    (e: Error) => e instanceof TrainingError && /loss became NaN at epoch 1, step 2 \(images: corrupt\.png\)/.test(e.message),
  );
});

test('batches never mix AC and AC+AS samples or source datasets; batch losses are finite', async () => {
  const bb = { weights: clip.weights, vision: clip.config.vision, activation: clip.activation };
  const init = initAdapters(128, 32, [1, 2], 0);
  const text = new Float32Array(64).map((_, i) => (i % 3) / 10 + 0.05);
  const samples: TrainSample[] = [0, 1, 2, 3, 4].map((k) => ({
    ...sample(`s${k}`, (i) => ((i * (k + 2)) % 11) / 11, (k % 2) as 0 | 1),
    task: k < 3 ? 'AC+AS' : 'AC',
    group: k < 3 ? 'A' : 'B',
  }));
  const r = await trainAdapters(bb, init, text, samples, { epochs: 1, lr: 1e-3, acOnly: false, batchSize: 2, shuffle: false });
  const groups = r.losses.map((l) => l.samples.map((n) => Number(n.slice(1)) < 3));
  for (const g of groups)
    assert.ok(
      g.every((x) => x === g[0]),
      `mixed batch ${JSON.stringify(r.losses.map((l) => l.samples))}`,
    );
  assert.deepEqual(r.losses.map((l) => l.samples.length).sort(), [1, 2, 2]);
  for (const l of r.losses) assert.ok(Number.isFinite(l.total));
  // AC batches have no seg terms.
  for (const l of r.losses) assert.equal(l.focal.length === 0, Number(l.samples[0].slice(1)) >= 3);
});
