// The library API: load CLIP, train adapters from folders, load a model, predict images. `predict` is the same
// path as `mvfa predict` and `mvfa serve` (src/engine/predict.ts).
import { type ClipModel } from './clip/model.ts';
import { cacheDir } from './engine/cache-dir.ts';
import { Engine } from './engine/engine.ts';
import { type FitOptions, type FitResult } from './engine/fit.ts';
import { type ImageInput, type Prediction, predictImage } from './engine/predict.ts';
import { MVFA_DEFAULTS } from './mvfa/defaults.ts';
import { type Mvfa } from './mvfa/mvfa.ts';

export type TrainOptions = Pick<FitOptions, 'organ' | 'out'> & Partial<Omit<FitOptions, 'organ' | 'out'>>;

/** Trains adapters with the official defaults (MVFA_DEFAULTS: 50 epochs, lr 1e-3, ×11 augmentation, seed 111, …). */
export async function train(clip: ClipModel, o: TrainOptions): Promise<FitResult> {
  const d = MVFA_DEFAULTS;
  return Engine.fromClip(clip, { cacheDir: cacheDir() }).fit({
    epochs: d.epochs,
    lr: d.lr,
    augment: d.augment,
    shuffle: d.shuffle,
    seed: d.seed,
    levels: [...d.levels],
    imageSize: d.imageSize,
    batchSize: d.batchSize,
    loss: d.loss,
    ...o,
  });
}

/**
 * Score and heatmap of one image (path, decoded raster or [3,S,S] tensor); `raw` holds the official branch
 * outputs and `rule` the fusion rule used (the stored calibration; without one, min–max over this single image,
 * whose score is then 0: score a set with `fuseResults` instead).
 */
export async function predict(model: Mvfa, image: ImageInput): Promise<Prediction> {
  return predictImage(model, image);
}
