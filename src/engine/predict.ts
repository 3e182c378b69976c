// The one prediction path: an image (file, decoded raster or model tensor) → raw branch outputs → fused score and
// map with the rule that applies. `mvfa predict`, `mvfa serve`, the library's `predict()` and the shard/queue
// workers all go through these functions (usually through `Engine`).
//
// Two steps, so that a run can be split:
//   scoreImage(model, image)        raw results of ONE image, independent of any other image (batch, shard, order);
//   fuseResults(raws, model)        the rule over a list of raw results: the stored calibration image by image when
//                                   the adapters carry one, else the official min–max over exactly these images.
// A sharded run scores its images anywhere with `scoreImage` and applies `fuseResults` to the union once.
import { medicalRasterToTensor, openMedicalImages } from '../io/medical/medical-image.ts';
import { type RasterU8 } from '../io/image/resample.ts';
import { type BranchScores, type Calibration, type FusedPrediction, type FusionRule, type Task, fuseCalibrated, fuseRun } from '../mvfa/fusion.ts';
import { type Mvfa } from '../mvfa/mvfa.ts';

/** An image file path (PNG, JPEG, …, a single-frame DICOM), a decoded raster (any size, 1 or 3 channels), or a model input tensor [3,S,S] in [0,1]. */
export type ImageInput = string | RasterU8 | Float32Array;

/** One image's prediction: raw branches, fused score and map (the heatmap), and the rule that produced them. */
export interface Prediction extends FusedPrediction {
  raw: BranchScores;
  rule: FusionRule;
}

/** What the fusion rule needs to know about a model. */
export interface FusionSource {
  task: Task;
  calibration: Calibration | null;
}

/** The model's input tensor for an image: RGB → bicubic resize to S×S (Pillow-exact) → [0,1], [3,S,S]. */
export async function inputTensor(model: Pick<Mvfa, 'imageSize'>, image: ImageInput): Promise<Float32Array> {
  const s = model.imageSize;
  if (image instanceof Float32Array) {
    if (image.length !== 3 * s * s) throw new RangeError(`an input tensor must be [3, ${s}, ${s}] (${3 * s * s} values), got ${image.length} values`);
    return image;
  }
  let raster = image as RasterU8;
  if (typeof image === 'string') {
    // Streamed: a volume is refused from its header, before any slice is decoded.
    const images = await openMedicalImages(image);
    if (images.count !== 1) throw new RangeError(`${image}: holds ${images.count} images (slices); score them one by one (openMedicalImages)`);
    for await (const item of images) raster = item.raster;
  }
  return medicalRasterToTensor(raster, { size: s });
}

export interface ScoreOptions {
  /** Search the memory bank with both heads (all four official dumps), not only the head the task scores with. */
  allHeads?: boolean;
}

/**
 * Raw branch outputs of one image (zero-shot map and det score; with a memory bank, the few-shot branch of the
 * head the model's task scores with, or of both heads). Depends on this image and the model only.
 */
export async function scoreImage(model: Mvfa, image: ImageInput, o: ScoreOptions = {}): Promise<BranchScores> {
  return model.analyze(await inputTensor(model, image), o.allHeads ? ['seg', 'det'] : [model.scoreHead]);
}

/**
 * Fuses raw results with the rule that applies: stored calibration (each image alone) when the model has one,
 * else the official min–max over exactly the images given. Pure.
 */
export function fuseResults(raws: readonly BranchScores[], model: FusionSource): { rule: FusionRule; predictions: Prediction[] } {
  const cal = model.calibration;
  if (cal) {
    const rule: FusionRule = { kind: 'calibration', source: cal.source };
    return { rule, predictions: raws.map((raw) => ({ ...fuseCalibrated(raw, cal), raw, rule })) };
  }
  const { rule, fused } = fuseRun(raws, model.task);
  return { rule, predictions: fused.map((f, i) => ({ ...f, raw: raws[i], rule })) };
}

/**
 * One image scored alone. Without stored calibration the run is this one image: its map is min–max normalised
 * over itself (what a heatmap with an automatic colour range shows) and its score is 0, carrying no ranking.
 */
export async function predictImage(model: Mvfa, image: ImageInput): Promise<Prediction> {
  return fuseResults([await scoreImage(model, image)], model).predictions[0];
}
