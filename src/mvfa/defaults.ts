// MVFA's defaults as data: the official code's settings (train_few.py / train_zero.py, CVPR 2024), in one place.
// Every command, the web page and the library read them from here; nothing else spells them.

export const MVFA_DEFAULTS = {
  /** Model input side (the official `--img_size 240`). */
  imageSize: 240,
  /** Adapter blocks of ViT-L/14 (1-based): the quarters of the tower's depth, see `defaultLevels`. */
  levels: [6, 12, 18, 24] as readonly number[],
  /** Learning rate of the few-shot protocol (`train_few.py`). */
  lr: 1e-3,
  /** Learning rate of the zero-shot (leave-one-out) protocol (`train_zero.py`). */
  lrZeroShot: 1e-4,
  epochs: 50,
  /** The official ×11 augmentation of the training and support images (`medical_few.py`). */
  augment: 'mvfa',
  shuffle: true,
  seed: 111,
  /** Images per optimiser step. */
  batchSize: 1,
  /** Loss definitions: the official code's ('code') or the paper's ('paper'). */
  loss: 'code',
  /** Weights of the zero-shot and few-shot branches after min–max normalisation (0.5/0.5). */
  fusionWeights: { zero: 0.5, few: 0.5 },
} as const;

/**
 * Adapter blocks for a vision tower of `layers` blocks: the quarters of its depth (6,12,18,24 for ViT-L/14's
 * 24 blocks, the official choice). The one rule used when no levels are given or stored.
 */
export function defaultLevels(layers: number): number[] {
  if (!Number.isInteger(layers) || layers < 1) throw new RangeError(`a vision tower needs at least one block, got ${layers}`);
  return [...new Set([1, 2, 3, 4].map((q) => Math.max(1, Math.round((q * layers) / 4))))];
}
