/** Evaluation metrics on plain typed arrays: exact AUROC (one-shot and streaming), max F1, AU-PRO. */

export { aurocExact, AurocAccumulator } from './auroc.ts';
export { maxF1 } from './max-f1.ts';
export { aupro } from './aupro.ts';
export { labelComponents8, type Components } from './connected-components.ts';
export { ONE_CLASS_MESSAGE, type ScoreArray } from './score-keys.ts';
