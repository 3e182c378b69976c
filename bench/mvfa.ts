// MVFA timings on a random ViT-L/14-shaped CLIP: checkpoint load, text features, inference, training step.
import { loadClip } from '../src/clip/factory.ts';
import { anomalyTextFeatures } from '../src/clip/text-features.ts';
import { initAdapters, adapterFeeds } from '../src/mvfa/adapters.ts';
import { Adam, MVFA_ADAM } from '../src/mvfa/adam.ts';
import { Mvfa } from '../src/mvfa/mvfa.ts';
import { compileInference } from '../src/mvfa/inference.ts';
import { compileTrainStep } from '../src/mvfa/training-graph.ts';
import { randomClipFile } from './random-clip.ts';
import { median, randn, timeit } from './util.ts';

function unitRows(n: number, d: number, seed: number): Float32Array {
  const x = randn(n * d, seed, 1);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += x[r * d + c] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let c = 0; c < d; c++) x[r * d + c] *= inv;
  }
  return x;
}

export async function benchClipLoad(): Promise<Record<string, number>> {
  const path = await randomClipFile();
  const t0 = performance.now();
  const m = await loadClip(path);
  const s = (performance.now() - t0) / 1000;
  await m.release();
  return { clip_load_s: s };
}

export async function benchTextFeatures(): Promise<Record<string, number>> {
  const clip = await loadClip(await randomClipFile());
  const t0 = performance.now();
  await anomalyTextFeatures(clip, 'Chest X-ray film');
  const first = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await anomalyTextFeatures(clip, 'Brain');
  const second = (performance.now() - t1) / 1000;
  await clip.release();
  return { text_features_first_s: first, text_features_s: second };
}

export async function benchMvfa(): Promise<Record<string, number>> {
  // Loaded from its file as a user's checkpoint is: sessions that own their weights read them from the file.
  const clip = await loadClip(await randomClipFile());
  const sd = clip.weights;
  const levels = [6, 12, 18, 24];
  const adapters = initAdapters(1024, 768, levels, 0);
  const text = unitRows(2, 768, 5);
  const m = new Mvfa(clip, adapters, text, null, { imageSize: 240 });
  const bankSize = 44 * 290; // K = 4 normals ×11 augmentations
  const bank = (seed: number) => ({ head: 'seg' as const, dim: 768, levels: levels.map((_, j) => unitRows(bankSize, 768, seed + j)), size: bankSize });
  await m.setBanks({ seg: bank(10), det: { ...bank(20), head: 'det' } });
  const image = randn(3 * 240 * 240, 3, 0.3).map((v) => Math.min(1, Math.abs(v)));
  // Compiling the inference graph alone; then the first image (its graphs compiled with it).
  const bb = { weights: sd, vision: clip.config.vision, activation: clip.activation };
  const tc = performance.now();
  await (await compileInference(bb, levels, 768, 240, 1)).release();
  const compile = (performance.now() - tc) / 1000;
  const tf = performance.now();
  await m.analyze(image);
  const first = (performance.now() - tf) / 1000;
  // The official scores search one head's memory bank (seg for AC+AS datasets, det for AC); dumps use both.
  const infer = median(await timeit(() => m.analyze(image, ['seg']), 1, 5)) / 1000;
  const inferBoth = median(await timeit(() => m.analyze(image, ['seg', 'det']), 1, 3)) / 1000;
  await m.release();

  // One training step from the cached stream after block 6 (blocks 7–24, losses at 4 levels, gradients, Adam).
  const tt = performance.now();
  const { graph, withGrad } = await compileTrainStep(bb, { levels, bottleneck: 768, imageSize: 240, batch: 1, tokens: 290, acOnly: false });
  const trainCompile = (performance.now() - tt) / 1000;
  const mask = new Float32Array(240 * 240).map((_, i) => (i % 97 < 9 ? 1 : 0));
  const feeds = { stream: randn(290 * 1024, 9, 1), text, label: Float32Array.of(1), mask, ...adapterFeeds(adapters) };
  const adam = new Adam({ lr: 1e-3, ...MVFA_ADAM });
  const step = async () => {
    const r = await graph.run(feeds);
    for (const name of withGrad) adam.step(name, feeds[name as keyof typeof feeds] as Float32Array, r[`grad_${name}`].data);
  };
  const train = median(await timeit(step, 1, 3)) / 1000;
  await graph.release();
  // A K=4 few-shot run: 88 augmented images per epoch, 50 epochs.
  return {
    mvfa_compile_s: compile,
    mvfa_first_image_s: first,
    mvfa_train_compile_s: trainCompile,
    mvfa_infer_s: infer,
    mvfa_infer_both_heads_s: inferBoth,
    mvfa_train_step_s: train,
    mvfa_fewshot_k4_50ep_est_h: (train * 88 * 50) / 3600,
    mvfa_brainmri_3715_test_est_min: (infer * 3715) / 60,
  };
}
