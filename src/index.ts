// Public entry point of the mvfa library.
export { loadClip } from './clip/factory.ts';
export { ClipModel, type ClipOptions } from './clip/model.ts';
export { anomalyTextFeatures } from './clip/text-features.ts';
export { ClipTokenizer } from './clip/tokenizer.ts';
export { Mvfa, type MvfaConfig, type MvfaLoadOptions } from './mvfa/mvfa.ts';
export { loadAdapters, saveAdapters, type AdapterCheckpoint } from './mvfa/checkpoint.ts';
export { type AdapterSet, initAdapters } from './mvfa/adapters.ts';
export { MVFA_DEFAULTS, defaultLevels } from './mvfa/defaults.ts';
export {
  type BranchRanges,
  type BranchScores,
  type Calibration,
  type FusedPrediction,
  type FusionRule,
  type Range,
  type Task,
  fuse,
  fuseCalibrated,
  fuseRun,
  runRanges,
  unionRanges,
} from './mvfa/fusion.ts';
export { Engine, EngineUsageError, type EngineOptions, type ModelSpec, type SupportSpec } from './engine/engine.ts';
export { type ImageInput, type Prediction, fuseResults, predictImage, scoreImage } from './engine/predict.ts';
export { train, predict, type TrainOptions } from './api.ts';
export { aurocExact, AurocAccumulator, maxF1, aupro } from './eval/index.ts';
export { loadImageTensor } from './io/image/image.ts';
export { loadMedicalImages } from './io/medical/medical-image.ts';
export { configureSessions, type Device } from './graph/index.ts';
