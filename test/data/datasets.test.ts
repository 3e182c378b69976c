import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BMAD_KEYS, CLASS_INDEX, DATASETS, DatasetError, genericDatasetInfo, getDataset, hasMasks, isBmadKey } from '../../src/data/datasets.ts';

test('the six BMAD datasets (spec §2.2, §6.2)', () => {
  assert.deepEqual(BMAD_KEYS, ['Brain', 'Liver', 'Retina_RESC', 'Retina_OCT2017', 'Chest', 'Histopathology']);
  const expected = [
    ['Brain', 3, 'AC+AS', 'Brain'],
    ['Liver', 2, 'AC+AS', 'Liver'],
    ['Retina_RESC', 1, 'AC+AS', 'retinal OCT'],
    ['Retina_OCT2017', -1, 'AC', 'retinal OCT'],
    ['Chest', -2, 'AC', 'Chest X-ray film'],
    ['Histopathology', -3, 'AC', 'histopathological image'],
  ] as const;
  for (const [key, idx, task, organ] of expected) {
    assert.deepEqual({ ...DATASETS[key] }, { key, classIndex: idx, task, organ, folder: `${key}_AD` });
    assert.equal(CLASS_INDEX[key], idx);
    assert.equal(getDataset(key), DATASETS[key]);
  }
  assert.equal(hasMasks('AC+AS'), true);
  assert.equal(hasMasks('AC'), false);
});

test('unknown keys and generic folders', () => {
  assert.equal(isBmadKey('BUSI'), false);
  assert.equal(isBmadKey('brain'), false);
  assert.throws(
    () => getDataset('BUSI'),
    (e: unknown) => e instanceof DatasetError && /BUSI/.test(e.message),
  );
  assert.deepEqual(
    { ...genericDatasetInfo('BUSI_AD', 'breast ultrasound', 'AC+AS') },
    {
      key: 'BUSI',
      classIndex: null,
      task: 'AC+AS',
      organ: 'breast ultrasound',
      folder: 'BUSI_AD',
    },
  );
  assert.throws(() => genericDatasetInfo('X_AD', ' ', 'AC'), DatasetError);
});

test('tables are frozen', () => {
  assert.ok(Object.isFrozen(DATASETS) && Object.isFrozen(DATASETS.Brain) && Object.isFrozen(CLASS_INDEX));
});
