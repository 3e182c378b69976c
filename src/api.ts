// The library API: load CLIP, train adapters from folders, load a model, predict images.
import { type ClipModel } from './clip/model.ts';
import { cachedTextFeatures } from './clip/text-features.ts';
import { type FitOptions, type FitResult, fitMvfa } from './engine/fit.ts';
import { loadImageTensor } from './io/image.ts';
import { type BranchScores, type FusedPrediction } from './mvfa/calibration.ts';
import { type Mvfa } from './mvfa/mvfa.ts';
import { cacheDir } from './engine/cache-dir.ts';

export type TrainOptions = Pick<FitOptions, 'organ' | 'out'> & Partial<Omit<FitOptions, 'organ' | 'out'>>;

/** Trains adapters (official defaults: 50 epochs, lr 1e-3, ×11 augmentation, shuffle, seed 111, blocks 6/12/18/24). */
export async function train(clip: ClipModel, o: TrainOptions): Promise<FitResult> {
  const text = await cachedTextFeatures(clip, clip.source, o.organ, cacheDir());
  return fitMvfa(clip, text, {
    epochs: 50,
    lr: 1e-3,
    augment: 'mvfa',
    shuffle: true,
    seed: 111,
    levels: [6, 12, 18, 24],
    imageSize: 240,
    batchSize: 1,
    ...o,
  });
}

/** Calibrated score and heatmap of one image (path or [3,S,S] tensor); `raw` holds the official branch outputs. */
export async function predict(model: Mvfa, image: string | Float32Array): Promise<FusedPrediction & { raw: BranchScores }> {
  const t = typeof image === 'string' ? (await loadImageTensor(image, { size: model.imageSize })).tensor : image;
  return model.predict(t);
}
