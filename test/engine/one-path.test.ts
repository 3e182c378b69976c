import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { predict } from '../../src/api.ts';
import { loadClip } from '../../src/clip/factory.ts';
import { type ClipModel } from '../../src/clip/model.ts';
import { Engine } from '../../src/engine/engine.ts';
import { fuseResults, inputTensor } from '../../src/engine/predict.ts';
import { readNpy } from '../../src/io/weights/npy.ts';
import { toFloat32 } from '../../src/io/weights/tensor.ts';
import { initAdapters } from '../../src/mvfa/adapters.ts';
import { saveAdapters } from '../../src/mvfa/checkpoint.ts';
import { defaultLevels } from '../../src/mvfa/defaults.ts';
import { type BranchScores, calibrate } from '../../src/mvfa/fusion.ts';
import { ModelHost } from '../../src/web/model-host.ts';
import { REPO } from '../support/fixtures.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';
import { type CliResult, runMvfa } from '../support/cli.ts';

// The CLI (`mvfa predict`), the web page's model host and the library's `predict()` go through one prediction
// path: for the same image they must report the same numbers, with stored calibration and without it.
const dir = mkdtempSync(join(tmpdir(), 'mvfa-one-path-'));
const demo = join(REPO, 'demo/BUSI_demo_AD');
const images = ['test/good/img/busi_0023.png', 'test/Ungood/img/busi_0001.png', 'test/Ungood/img/busi_0003.png'].map((p) => join(demo, p));
const supportDir = join(demo, 'valid/good/img');
const organ = 'breast ultrasound';
let clipPath: string;
let clip: ClipModel;
const calibrated = join(dir, 'calibrated.safetensors');
const uncalibrated = join(dir, 'uncalibrated.safetensors');
const calibratedAc = join(dir, 'calibrated-ac.safetensors');

function mvfa(args: string[]): CliResult {
  return runMvfa(args, join(dir, 'cache'));
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

before(async () => {
  clipPath = await writeTinyClip(dir);
  clip = await loadClip(clipPath);
  const levels = defaultLevels(clip.config.vision.layers);
  const adapters = initAdapters(clip.config.vision.width, clip.config.embedDim, levels, 5);
  // Calibration ranges from two other test images scored with the memory bank of the support images.
  const engine = Engine.fromClip(clip);
  const m = await engine.load({ adapters: { adapters, info: { organ } }, support: { dir: supportDir, augment: 'none' } });
  const raws: BranchScores[] = [];
  for (const p of ['busi_0025.png', 'busi_0071.png']) raws.push(await m.analyze(await inputTensor(m, join(demo, 'test/good/img', p))));
  await engine.release();
  await saveAdapters(calibrated, { adapters, calibration: calibrate(raws, 'AC+AS', 'two test images'), info: { organ, imageSize: '240' } });
  await saveAdapters(uncalibrated, { adapters, info: {} });
  await saveAdapters(calibratedAc, { adapters, calibration: calibrate(raws, 'AC', 'two test images'), info: { organ, task: 'AC' } });
});

after(async () => {
  await clip?.release();
  rmSync(dir, { recursive: true, force: true });
});

async function pageScores(adapters: string, files: string[]): Promise<number[]> {
  const host = new ModelHost({ clipPaths: [clipPath], adapterPaths: [adapters], organ, supportDir, supportAugment: 'none', cacheDir: join(dir, 'cache') });
  try {
    await host.init();
    const out: number[] = [];
    for (const f of files) out.push((await host.predict(f, 'png', readFileSync(f))).result.score!);
    return out;
  } finally {
    await host.close();
  }
}

test('calibrated adapters: CLI, page and library give the same score and raw maps for the same image', async (t) => {
  // Library: an Engine over the loaded CLIP with the same support folder, and the library's predict() on the model.
  const engine = Engine.fromClip(clip, { cacheDir: join(dir, 'cache') });
  const m = await engine.load({ adapters: calibrated, support: { dir: supportDir, augment: 'none' } });
  const lib = [];
  for (const f of images) lib.push(await predict(m, f));
  await engine.release();
  assert.ok(lib.every((p) => p.rule.kind === 'calibration'));

  const dump = join(dir, 'dump-cal');
  const out = join(dir, 'out-cal');
  const r = mvfa([
    'predict',
    '--clip',
    clipPath,
    '--adapters',
    calibrated,
    '--support',
    supportDir,
    '--support-augment',
    'none',
    '--dump',
    dump,
    '--out',
    out,
    '--json',
    '--quiet',
    ...images,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const cli = JSON.parse(r.stdout) as { rule: { kind: string }; results: { image: string; score: number }[] };
  assert.equal(cli.rule.kind, 'calibration');
  const page = await pageScores(calibrated, images);

  let worst = 0;
  for (let i = 0; i < images.length; i++) {
    worst = Math.max(worst, Math.abs(cli.results[i].score - lib[i].score), Math.abs(page[i] - lib[i].score));
    const stem = images[i].split('/').pop()!.replace('.png', '');
    const zero = toFloat32(await readNpy(join(dump, `${stem}.zero_seg.npy`)));
    const few = toFloat32(await readNpy(join(dump, `${stem}.few_seg.npy`)));
    assert.equal(maxAbs(zero, lib[i].raw.zeroSeg), 0, 'CLI and library zero-shot maps');
    assert.equal(maxAbs(few, lib[i].raw.fewSeg!), 0, 'CLI and library few-shot maps');
    assert.ok(existsSync(join(out, `${stem}.png`)), 'heatmap written');
  }
  t.diagnostic(`scores ${lib.map((p) => p.score.toFixed(6)).join(', ')}; largest CLI/page/library difference ${worst}`);
  assert.equal(worst, 0);
  // Different images, different scores: the comparison is not between constants.
  assert.ok(new Set(lib.map((p) => p.score)).size === images.length);
});

test('calibrated AC adapters (det memory bank): CLI, page and library give the same scores', async (t) => {
  const engine = Engine.fromClip(clip, { cacheDir: join(dir, 'cache') });
  const m = await engine.load({ adapters: calibratedAc, support: { dir: supportDir, augment: 'none' } });
  assert.equal(m.task, 'AC');
  const lib = [];
  for (const f of images) lib.push(await predict(m, f));
  await engine.release();
  assert.ok(
    lib.every((p) => p.raw.fewDet && !p.raw.fewSeg),
    'AC scores with the det memory bank',
  );
  const r = mvfa([
    'predict',
    '--clip',
    clipPath,
    '--adapters',
    calibratedAc,
    '--support',
    supportDir,
    '--support-augment',
    'none',
    '--json',
    '--quiet',
    ...images,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const cli = (JSON.parse(r.stdout) as { results: { score: number }[] }).results.map((x) => x.score);
  const page = await pageScores(calibratedAc, images);
  t.diagnostic(`AC scores ${cli.map((x) => x.toFixed(6)).join(', ')}`);
  assert.deepEqual(
    cli,
    lib.map((p) => p.score),
  );
  assert.deepEqual(page, cli);
});

test('adapters without calibration: the CLI writes heatmaps and scores with min–max over the run, says so once, records the rule', async (t) => {
  const out = join(dir, 'out-raw');
  const r = mvfa([
    'predict',
    '--clip',
    clipPath,
    '--adapters',
    uncalibrated,
    '--organ',
    organ,
    '--support',
    supportDir,
    '--support-augment',
    'none',
    '--out',
    out,
    ...images,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/stores no calibration/g)?.length, 1, r.stderr);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    rule: { kind: string; images: number; description: string };
    results: { image: string; score: number }[];
  };
  assert.equal(res.rule.kind, 'run-min-max');
  assert.equal(res.rule.images, images.length);
  for (const f of images) assert.ok(existsSync(join(out, f.split('/').pop()!)), `heatmap <stem>.png of ${f}`);
  // The library's per-image raw results, fused with the run rule, give the CLI's numbers.
  const engine = Engine.fromClip(clip, { cacheDir: join(dir, 'cache') });
  await engine.load({ adapters: uncalibrated, organ, support: { dir: supportDir, augment: 'none' } });
  const raws = [];
  for (const f of images) raws.push(await engine.score(f));
  const fused = fuseResults(raws, engine.model!);
  await engine.release();
  const e = maxAbs(
    res.results.map((x) => x.score),
    fused.predictions.map((p) => p.score),
  );
  t.diagnostic(`run scores ${res.results.map((x) => x.score.toFixed(6)).join(', ')}; CLI vs library ${e}`);
  assert.equal(e, 0);
  // AC+AS with a memory bank: the highest fused pixel of the run is 1 at most, the scores are maxima of maps in [0, 1].
  assert.ok(res.results.every((x) => x.score >= 0 && x.score <= 1));

  // One image alone: the page and the CLI agree too (the run is that image).
  const one = mvfa([
    'predict',
    '--clip',
    clipPath,
    '--adapters',
    uncalibrated,
    '--organ',
    organ,
    '--support',
    supportDir,
    '--support-augment',
    'none',
    '--json',
    '--quiet',
    images[1],
  ]);
  assert.equal(one.code, 0, one.stderr);
  const [page] = await pageScores(uncalibrated, [images[1]]);
  assert.equal((JSON.parse(one.stdout) as { results: { score: number }[] }).results[0].score, page);
});

test('zero-shot without calibration: the score is the raw det score of the image, the same on every path', async () => {
  const r = mvfa(['predict', '--clip', clipPath, '--adapters', uncalibrated, '--organ', organ, '--json', '--quiet', ...images]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/stores no calibration/g)?.length, 1, 'the rule is said once, even with --quiet');
  const cli = JSON.parse(r.stdout) as { results: { score: number; zero_det: number }[] };
  for (const x of cli.results) assert.equal(x.score, x.zero_det);
  const host = new ModelHost({ clipPaths: [clipPath], adapterPaths: [uncalibrated], organ, cacheDir: join(dir, 'cache') });
  try {
    await host.init();
    const page = (await host.predict(images[2], 'png', readFileSync(images[2]))).result;
    assert.equal(page.score, cli.results[2].score);
  } finally {
    await host.close();
  }
});
