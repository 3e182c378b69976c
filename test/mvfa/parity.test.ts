import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../../src/clip/factory.ts';
import { type ClipModel } from '../../src/clip/model.ts';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { toFloat32 } from '../../src/io/tensor.ts';
import { type AdapterSet } from '../../src/mvfa/adapters.ts';
import { loadAdapters } from '../../src/mvfa/checkpoint.ts';
import { Mvfa } from '../../src/mvfa/mvfa.ts';
import { trainAdapters, type TrainSample } from '../../src/mvfa/trainer.ts';
import { mulberry32 } from '../../src/util/random.ts';

// Reference: scripts/fixtures/mvfa_ref.py (PyTorch implementation of the official MVFA code paths) on a random tiny
// CLIP (vision width 128, 4 blocks, patch 14) at 56 px (4×4 patches), adapters at blocks 1,2,3,4 with bottleneck 32.
const dir = mkdtempSync(join(tmpdir(), 'mvfa-parity-'));
const fx = (p: string) => new URL(`../../scripts/fixtures/${p}`, import.meta.url).pathname;
const S = 56;
const N = 3;
const LEVELS = '1,2,3,4';
let clip: ClipModel;
let init: AdapterSet;
let text: Float32Array;
let images: Float32Array;
let masks: Float32Array;
const labels = Float32Array.from([1, 0, 1]);

function py(args: string[], out: string): void {
  execFileSync(
    '/usr/bin/python3',
    [
      fx('mvfa_ref.py'),
      '--clip',
      join(dir, 'tiny.pth'),
      '--text',
      join(dir, 'text.npy'),
      '--levels',
      LEVELS,
      '--image-size',
      String(S),
      '--bottleneck',
      '32',
      '--images',
      join(dir, 'images.npy'),
      '--out',
      join(dir, out),
      ...args,
    ],
    { stdio: 'inherit' },
  );
}
async function npy(path: string): Promise<Float32Array> {
  return toFloat32(await readNpy(path));
}
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const img = (i: number) => images.subarray(i * 3 * S * S, (i + 1) * 3 * S * S);

before(async () => {
  execFileSync('/usr/bin/python3', [fx('clip_ref.py'), dir, '--vlayers', '4', '--image-size', String(S)], { stdio: 'inherit' });
  const rnd = mulberry32(7);
  images = new Float32Array(N * 3 * S * S).map(() => rnd());
  masks = new Float32Array(N * S * S);
  for (let y = 10; y < 30; y++) for (let x = 20; x < 44; x++) masks[y * S + x] = 1; // image 0
  for (let y = 30; y < 50; y++) for (let x = 5; x < 25; x++) masks[2 * S * S + y * S + x] = 1; // image 2
  // Nearly parallel unit text vectors (cos ≈ 0.975, like CLIP prompt pairs) keep 100·cos out of softmax saturation.
  const a = new Float32Array(32).map(() => rnd() - 0.5);
  const b = a.map((v) => v + (rnd() - 0.5) * 0.25);
  const norm = (v: Float32Array) => v.map((x) => x / Math.hypot(...v));
  text = new Float32Array([...norm(a), ...norm(b)]);
  await writeNpy(join(dir, 'text.npy'), { dtype: 'float32', shape: [2, 32], data: text });
  await writeNpy(join(dir, 'images.npy'), { dtype: 'float32', shape: [N, 3, S, S], data: images });
  await writeNpy(join(dir, 'masks.npy'), { dtype: 'float32', shape: [N, S, S], data: masks });
  await writeNpy(join(dir, 'labels.npy'), { dtype: 'float32', shape: [N], data: labels });
  await writeNpy(join(dir, 'support.npy'), { dtype: 'float32', shape: [2, 3, S, S], data: images.slice(3 * S * S) });
  py(['--init-random', '0', '--support', join(dir, 'support.npy'), 'predict'], 'pred');
  clip = await loadClip(join(dir, 'tiny.safetensors'));
  init = (await loadAdapters(join(dir, 'pred', 'init.safetensors'), [1, 2, 3, 4])).adapters;
});

test('inference dumps (zero_seg, zero_det, few_seg, few_det) match PyTorch', async (t) => {
  const m = new Mvfa(clip, init, text, null, { imageSize: S });
  await m.setSupport([img(1), img(2)]);
  const ref = {
    zeroSeg: await npy(join(dir, 'pred', 'zero_seg.npy')),
    zeroDet: await npy(join(dir, 'pred', 'zero_det.npy')),
    fewSeg: await npy(join(dir, 'pred', 'few_seg.npy')),
    fewDet: await npy(join(dir, 'pred', 'few_det.npy')),
  };
  const errs = { zeroSeg: 0, zeroDet: 0, fewSeg: 0, fewDet: 0 };
  for (let i = 0; i < N; i++) {
    const r = await m.analyze(img(i));
    const sl = (a: Float32Array) => a.subarray(i * S * S, (i + 1) * S * S);
    errs.zeroSeg = Math.max(errs.zeroSeg, maxAbs(r.zeroSeg, sl(ref.zeroSeg)));
    errs.zeroDet = Math.max(errs.zeroDet, Math.abs(r.zeroDet - ref.zeroDet[i]));
    errs.fewSeg = Math.max(errs.fewSeg, maxAbs(r.fewSeg!, sl(ref.fewSeg)));
    errs.fewDet = Math.max(errs.fewDet, maxAbs(r.fewDet!, sl(ref.fewDet)));
  }
  t.diagnostic(`max abs errors: ${JSON.stringify(errs)}`);
  for (const [k, e] of Object.entries(errs)) assert.ok(e <= 1e-4, `${k} differs by ${e}`);
  await m.release();
});

function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

for (const acOnly of [false, true]) {
  test(`one training epoch matches PyTorch (${acOnly ? 'AC-only' : 'focal+dice+BCE'})`, async (t) => {
    const out = acOnly ? 'train_ac' : 'train';
    py(
      [
        '--adapters',
        join(dir, 'pred', 'init.safetensors'),
        '--masks',
        join(dir, 'masks.npy'),
        '--labels',
        join(dir, 'labels.npy'),
        '--lr',
        '1e-3',
        ...(acOnly ? ['--ac-only'] : []),
        'train',
      ],
      out,
    );
    const refLosses = JSON.parse(readFileSync(join(dir, out, 'losses.json'), 'utf8')) as { steps: { total: number }[] };
    const trained = (await loadAdapters(join(dir, out, 'trained.safetensors'), [1, 2, 3, 4])).adapters;
    const samples: TrainSample[] = Array.from({ length: N }, (_, i) => ({
      name: `img${i}`,
      image: img(i),
      mask: masks.subarray(i * S * S, (i + 1) * S * S),
      label: labels[i] as 0 | 1,
    }));
    const r = await trainAdapters({ weights: clip.weights, vision: clip.config.vision, activation: clip.activation }, init, text, samples, {
      epochs: 1,
      lr: 1e-3,
      acOnly,
      shuffle: false,
    });
    let worstLoss = 0;
    r.losses.forEach((l, i) => (worstLoss = Math.max(worstLoss, Math.abs(l.total - refLosses.steps[i].total) / Math.abs(refLosses.steps[i].total))));
    assert.equal(r.losses.length, refLosses.steps.length);
    let worstUpd = 0;
    const diffs: number[] = [];
    for (const head of ['seg', 'det'] as const) {
      init[head].forEach((p, j) => {
        for (const fc of ['fc1', 'fc2'] as const) {
          const w0 = p[fc];
          const ours = r.adapters[head][j][fc];
          const theirs = trained[head][j][fc];
          const frozen = (fc === 'fc2' && j === 3) || (acOnly && head === 'seg');
          if (frozen) {
            assert.ok(
              ours.every((v, i) => v === w0[i]),
              `${head}.${j}.${fc} must stay bit-identical`,
            );
            assert.ok(
              theirs.every((v, i) => v === w0[i]),
              `reference ${head}.${j}.${fc} must stay bit-identical`,
            );
            continue;
          }
          const du = ours.map((v, i) => v - w0[i]);
          const dr = theirs.map((v, i) => v - w0[i]);
          worstUpd = Math.max(worstUpd, relL2(du, dr));
          for (let i = 0; i < ours.length; i++) diffs.push(Math.abs(ours[i] - theirs[i]));
        }
      });
    }
    diffs.sort((a, b) => a - b);
    const p99 = diffs[Math.floor(0.99 * (diffs.length - 1))];
    t.diagnostic(`loss rel err ${worstLoss.toExponential(2)}, update rel L2 ${worstUpd.toExponential(2)}, p99 |w − w_ref| ${p99.toExponential(2)}`);
    assert.ok(worstLoss <= 2e-4, `per-step loss relative error ${worstLoss}`);
    assert.ok(worstUpd <= 5e-2, `update relative L2 ${worstUpd}`);
    assert.ok(p99 <= 1e-4, `p99 weight difference ${p99}`);
  });
}
