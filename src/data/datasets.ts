/**
 * The six BMAD benchmark datasets used by MVFA, as plain data (spec §2.2, §6.2).
 *
 * - `classIndex` is the official `CLASS_INDEX`; its sign tells whether the dataset has
 *   pixel masks (> 0: anomaly classification + segmentation, < 0: classification only).
 * - `organ` is the name inserted into the prompt templates (`prompt.py` REAL_NAME).
 * - `folder` is the dataset directory name under the data root (`{Key}_AD`).
 */
import { RefusedInputError } from '../util/errors.ts';

/** Anomaly classification + segmentation, or anomaly classification only. */
export type Task = 'AC+AS' | 'AC';

export type BmadKey = 'Brain' | 'Liver' | 'Retina_RESC' | 'Retina_OCT2017' | 'Chest' | 'Histopathology';

export interface DatasetInfo {
  /** `Brain`, …, or for a generic folder `NAME` from `NAME_AD`. */
  readonly key: string;
  /** Official CLASS_INDEX for the six BMAD sets; `null` for any other folder. */
  readonly classIndex: number | null;
  readonly task: Task;
  /** Object name put into the prompt templates. */
  readonly organ: string;
  /** Directory name under the data root, `{key}_AD`. */
  readonly folder: string;
}

/** Raised for any problem with a dataset folder or a few-shot list; the message names the path. */
export class DatasetError extends RefusedInputError {
  override readonly name = 'DatasetError';
}

/** Official order (`CLASS_NAMES` in the reference code). */
export const BMAD_KEYS: readonly BmadKey[] = Object.freeze(['Brain', 'Liver', 'Retina_RESC', 'Retina_OCT2017', 'Chest', 'Histopathology'] as const);

export const CLASS_INDEX: Readonly<Record<BmadKey, number>> = Object.freeze({
  Brain: 3,
  Liver: 2,
  Retina_RESC: 1,
  Retina_OCT2017: -1,
  Chest: -2,
  Histopathology: -3,
});

const ORGAN: Readonly<Record<BmadKey, string>> = {
  Brain: 'Brain',
  Liver: 'Liver',
  Retina_RESC: 'retinal OCT',
  Retina_OCT2017: 'retinal OCT',
  Chest: 'Chest X-ray film',
  Histopathology: 'histopathological image',
};

function makeInfo(key: BmadKey): DatasetInfo {
  const classIndex = CLASS_INDEX[key];
  return Object.freeze({
    key,
    classIndex,
    task: classIndex > 0 ? 'AC+AS' : 'AC',
    organ: ORGAN[key],
    folder: `${key}_AD`,
  });
}

export const DATASETS: Readonly<Record<BmadKey, DatasetInfo>> = Object.freeze({
  Brain: makeInfo('Brain'),
  Liver: makeInfo('Liver'),
  Retina_RESC: makeInfo('Retina_RESC'),
  Retina_OCT2017: makeInfo('Retina_OCT2017'),
  Chest: makeInfo('Chest'),
  Histopathology: makeInfo('Histopathology'),
});

export function isBmadKey(s: string): s is BmadKey {
  return (BMAD_KEYS as readonly string[]).includes(s);
}

/** Info for one of the six BMAD keys; a DatasetError for anything else. */
export function getDataset(key: string): DatasetInfo {
  if (!isBmadKey(key)) {
    throw new DatasetError(`unknown dataset key '${key}' (expected one of ${BMAD_KEYS.join(', ')})`);
  }
  return DATASETS[key];
}

/** True when the task includes segmentation, i.e. abnormal images come with masks. */
export function hasMasks(task: Task): boolean {
  return task === 'AC+AS';
}

/**
 * Info for a folder that is not one of the six (e.g. `BUSI_AD`): the key is the folder name
 * without the `_AD` suffix, the organ and task are given by the caller.
 */
export function genericDatasetInfo(folder: string, organ: string, task: Task): DatasetInfo {
  if (organ.trim() === '') throw new DatasetError(`empty organ name for dataset folder '${folder}'`);
  const key = folder.endsWith('_AD') ? folder.slice(0, -3) : folder;
  return Object.freeze({ key, classIndex: null, task, organ, folder });
}
