import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeOf, UsageError } from '../../src/cli/common.ts';
import { ClipWeightsError } from '../../src/clip/state-dict.ts';
import { DatasetError } from '../../src/data/datasets.ts';
import { Engine, EngineUsageError } from '../../src/engine/engine.ts';
import { inputTensor } from '../../src/engine/predict.ts';
import { WeightFileError } from '../../src/io/weights/tensor.ts';
import { adapterFeeds, adapterParam, adapterParams, initAdapters } from '../../src/mvfa/adapters.ts';
import { AdapterFileError, loadAdapters, saveAdapters } from '../../src/mvfa/checkpoint.ts';
import { MVFA_DEFAULTS, defaultLevels } from '../../src/mvfa/defaults.ts';
import { REPO } from '../support/fixtures.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';

const dir = mkdtempSync(join(tmpdir(), 'mvfa-engine-'));
const image = join(REPO, 'demo/BUSI_demo_AD/test/good/img/busi_0023.png');
let engine: Engine;
let adaptersPath: string;

before(async () => {
  engine = await Engine.open(await writeTinyClip(dir), { cacheDir: join(dir, 'cache') });
  const c = engine.clip.config;
  adaptersPath = join(dir, 'a.safetensors');
  await saveAdapters(adaptersPath, { adapters: initAdapters(c.vision.width, c.embedDim, defaultLevels(c.vision.layers), 3), info: {} });
});

after(async () => {
  await engine?.release();
  rmSync(dir, { recursive: true, force: true });
});

test('defaults: ViT-L/14 gets the official blocks 6,12,18,24 from the one levels rule', () => {
  assert.deepEqual(defaultLevels(24), [6, 12, 18, 24]);
  assert.deepEqual(defaultLevels(24), [...MVFA_DEFAULTS.levels]);
  assert.deepEqual(defaultLevels(12), [3, 6, 9, 12]);
  assert.deepEqual(defaultLevels(2), [1, 2]);
  assert.deepEqual(defaultLevels(1), [1]);
  assert.throws(() => defaultLevels(0), /at least one block/);
});

test('adapter tensor names come from one helper and are looked up, not parsed', () => {
  const a = initAdapters(8, 4, [1, 2], 1);
  const params = adapterParams(2);
  assert.equal(params.length, 8);
  assert.deepEqual(Object.keys(adapterFeeds(a)).sort(), params.map((p) => p.name).sort());
  const p = adapterParam('det_fc2_1', 2);
  assert.deepEqual([p.head, p.fc, p.level, p.key], ['det', 'fc2', 1, 'det_adapters.1.fc2.0.weight']);
  assert.equal(adapterFeeds(a)[p.name], a.det[1].fc2);
  assert.throws(() => adapterParam('det_fc2_2', 2), /not an adapter tensor/);
});

test('load: organ needed, then scoring; loading other adapters releases the previous model', async () => {
  await assert.rejects(engine.score(image), EngineUsageError);
  await assert.rejects(engine.load({ adapters: adaptersPath }), (e: Error) => e instanceof EngineUsageError && /organ/.test(e.message));
  const first = await engine.load({ adapters: adaptersPath, organ: 'Brain' });
  assert.equal(engine.organ, 'Brain');
  assert.equal(first.imageSize, MVFA_DEFAULTS.imageSize);
  const raw = await engine.score(image);
  assert.equal(raw.zeroSeg.length, 240 * 240);
  assert.equal(raw.fewSeg, undefined, 'no memory bank, no few-shot branch');
  // The same image as a path, a raster or a tensor gives the same raw result.
  const t = await inputTensor(first, image);
  assert.deepEqual((await engine.score(t)).zeroSeg, raw.zeroSeg);
  const second = await engine.load({ adapters: adaptersPath, organ: 'Brain', imageSize: 112 });
  assert.notEqual(second, first);
  assert.equal(engine.model, second);
  assert.ok(first.holdsGraphs === false && second.holdsGraphs, "the previous model's graphs are released");
  assert.equal((await engine.score(image)).zeroSeg.length, 112 * 112);
  await assert.rejects(inputTensor(second, new Float32Array(10)), /\[3, 112, 112\]/);
  // Text features are computed once per organ and engine.
  assert.equal(await engine.textFeatures('Brain'), await engine.textFeatures('Brain'));
  await engine.unload();
  assert.equal(engine.model, null);
  assert.equal(second.holdsGraphs, false);
});

test('exit codes are carried by the error classes: 2 for usage and unusable files, 1 otherwise', () => {
  assert.equal(exitCodeOf(new UsageError('x')), 2);
  assert.equal(exitCodeOf(new EngineUsageError('x')), 2);
  assert.equal(exitCodeOf(new AdapterFileError('f', 'x')), 2);
  assert.equal(exitCodeOf(new ClipWeightsError('f', 'x')), 2);
  assert.equal(exitCodeOf(new WeightFileError('f', 'x')), 2);
  assert.equal(exitCodeOf(new DatasetError('x')), 2);
  assert.equal(exitCodeOf(new Error('x')), 1);
  assert.equal(exitCodeOf('text'), 1);
});

test('a stored calibration is checked when adapters are read: a bad one names the file', async () => {
  const bad = join(dir, 'bad-cal.safetensors');
  const good = await loadAdapters(adaptersPath, undefined, 2);
  await saveAdapters(bad, {
    ...good,
    calibration: { task: 'AC+AS', zeroSeg: { min: 1, max: 0 }, fewSeg: null, zeroDet: { min: 0, max: 1 }, fewDet: null, source: 's' },
  });
  await assert.rejects(loadAdapters(bad, undefined, 2), (e: Error) => e instanceof AdapterFileError && e.message.startsWith(bad) && /zeroSeg/.test(e.message));
});
