import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { readNpy, writeNpy } from '../../src/io/weights/npy.ts';
import { toFloat32 } from '../../src/io/weights/tensor.ts';
import { openSafetensors } from '../../src/io/weights/safetensors.ts';
import { REPO } from '../support/fixtures.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';
import {
  FROZEN_LR,
  REF_ORGAN,
  REF_SEED,
  type Ranges,
  e2eRef,
  maxAbsDiff,
  near,
  officialScore,
  rangesOf,
  readDump,
  referenceTrainingSet,
  repoPath,
} from '../support/e2e.ts';
import { type CliResult, runMvfa } from '../support/cli.ts';

// End-to-end runs of the `mvfa` command on the tiny seeded CLIP (test/support/tiny-clip.ts) and the bundled demo BUSI
// images; expected values from the PyTorch/numpy reference of fixtures/e2e-ref (scripts/fixtures/e2e_ref.py), from
// the official rule applied to the raw dumps, or computed by hand.
const dir = mkdtempSync(join(tmpdir(), 'mvfa-cli-'));
const repo = REPO;
let clip: string;

function mvfa(args: string[]): CliResult {
  return runMvfa(args, join(dir, 'cache'));
}

before(async () => {
  clip = await writeTinyClip(dir);
  // The few-shot set of the reference: 2 normal, 2 abnormal with masks (demo valid/).
  referenceTrainingSet(dir);
});

test('text-features writes float32 [2, D] equal to the PyTorch reference', async (t) => {
  const out = join(dir, 'text.npy');
  const r = mvfa(['text-features', '--clip', clip, '--organ', REF_ORGAN, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const got = await readNpy(out);
  assert.equal(got.dtype, 'float32');
  assert.deepEqual(got.shape, [2, 32]);
  const e = maxAbsDiff(toFloat32(got), e2eRef().text_features.flat(), 'text features');
  t.diagnostic(`max abs error ${e.toExponential(2)}`);
  assert.ok(e <= 1e-5, `text features differ by ${e}`);
  // An existing output is not overwritten without --force.
  const again = mvfa(['text-features', '--clip', clip, '--organ', REF_ORGAN, '--out', out]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists/);
});

test('embed writes [N, D] rows in input order, equal to PyTorch on PIL-decoded images', async (t) => {
  const ref = e2eRef().embed;
  const imgs = ref.images.map(repoPath);
  const out = join(dir, 'emb.npy');
  const r = mvfa(['embed', '--clip', clip, '--out', out, ...imgs]);
  assert.equal(r.code, 0, r.stderr);
  const got = await readNpy(out);
  assert.deepEqual(got.shape, [imgs.length, 32]);
  const g = toFloat32(got);
  // Compare L2-normalised rows.
  let e = 0;
  for (let i = 0; i < imgs.length; i++) {
    const a = g.subarray(i * 32, (i + 1) * 32);
    const b = ref.rows[i];
    const na = Math.hypot(...a);
    const nb = Math.hypot(...b);
    for (let k = 0; k < 32; k++) e = Math.max(e, Math.abs(a[k] / na - b[k] / nb));
  }
  t.diagnostic(`normalised max abs error ${e.toExponential(2)}`);
  assert.ok(e <= 1e-4, `embeddings differ by ${e}`);
});

function trainArgs(out: string, extra: string[]): string[] {
  return [
    'train',
    '--clip',
    clip,
    '--normal',
    join(dir, 'normal'),
    '--abnormal',
    join(dir, 'abnormal'),
    '--augment',
    'none',
    '--levels',
    '1,2',
    '--image-size',
    '56',
    '--out',
    out,
    ...extra,
  ];
}

test("train then predict: calibration = ranges of the training images' dumps, score = official rule on each dump; a bad image fails alone", async (t) => {
  const adapters = join(dir, 'adapters.safetensors');
  const r = mvfa(trainArgs(adapters, ['--organ', 'breast ultrasound', '--masks', join(dir, 'masks'), '--epochs', '2', '--json']));
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { steps: number; finalLoss: number };
  assert.equal(summary.steps, 8, '2 epochs × (2 normal + 2 abnormal) images, batch 1');
  assert.ok(Number.isFinite(summary.finalLoss));
  const f = await openSafetensors(adapters);
  assert.equal(f.metadata?.levels, '1,2');
  assert.equal(f.metadata?.organ, 'breast ultrasound');
  const cal = JSON.parse(f.metadata!.calibration) as Ranges & { task: string };
  assert.equal(cal.task, 'AC+AS');
  f.close();
  assert.ok(!existsSync(`${adapters}.state`), 'the resumable state is removed after a finished run');

  const training = [
    ...readdirSync(join(dir, 'abnormal')).map((x) => join(dir, 'abnormal', x)),
    ...readdirSync(join(dir, 'normal')).map((x) => join(dir, 'normal', x)),
  ];
  const others = e2eRef().predict.map((p) => repoPath(p.image));
  const broken = join(dir, 'broken.png');
  writeFileSync(broken, 'not an image');
  const dump = join(dir, 'dump');
  const out = join(dir, 'out');
  const p = mvfa([
    'predict',
    '--clip',
    clip,
    '--adapters',
    adapters,
    '--support',
    join(dir, 'normal'),
    '--support-augment',
    'none',
    '--dump',
    dump,
    '--out',
    out,
    '--json',
    ...training,
    ...others,
    broken,
  ]);
  assert.equal(p.code, 1, p.stderr);
  assert.match(p.stderr, /broken\.png: cannot decode image/);
  const res = JSON.parse(p.stdout) as { results: { image: string; score: number }[]; failures: { input: string }[] };
  assert.equal(res.results.length, training.length + others.length);
  assert.equal(res.failures.length, 1);
  const stem = (f: string) => basename(f).replace(/\.png$/, '');
  for (const img of [...training, ...others]) {
    for (const kind of ['zero_seg', 'few_seg']) assert.deepEqual((await readNpy(join(dump, `${stem(img)}.${kind}.npy`))).shape, [56, 56]);
    assert.ok(existsSync(join(out, `${stem(img)}.png`)));
  }
  // Calibration: the ranges over the training images' raw outputs (same memory bank: the normals, no augmentation).
  const want = rangesOf(await Promise.all(training.map((img) => readDump(dump, stem(img)))));
  for (const k of ['zeroSeg', 'fewSeg', 'zeroDet'] as const) {
    near(cal[k].min, want[k]!.min, 1e-6, `calibration ${k}.min`);
    near(cal[k].max, want[k]!.max, 1e-6, `calibration ${k}.max`);
  }
  // Each printed score is the official rule on that image's dump with the stored ranges.
  let e = 0;
  for (const x of res.results) e = Math.max(e, near(x.score, officialScore(await readDump(dump, stem(x.image)), cal, 'AC+AS'), 1e-6, `${x.image}: score`));
  t.diagnostic(`scores vs the rule on the dumps: max error ${e.toExponential(2)}; scores ${res.results.map((x) => x.score.toFixed(4)).join(' ')}`);
});

test('frozen adapters: mvfa predict scores equal the PyTorch/numpy reference (AC+AS and AC)', async (t) => {
  const ref = e2eRef();
  const images = ref.predict.map((p) => repoPath(p.image));
  const frozen = ['--organ', REF_ORGAN, '--epochs', '1', '--lr', String(FROZEN_LR), '--seed', String(REF_SEED), '--no-shuffle', '--quiet'];
  for (const task of ['AC+AS', 'AC'] as const) {
    const adapters = join(dir, `frozen-${task === 'AC' ? 'ac' : 'acas'}.safetensors`);
    const r = mvfa(trainArgs(adapters, [...frozen, ...(task === 'AC' ? [] : ['--masks', join(dir, 'masks')])]));
    assert.equal(r.code, 0, r.stderr);
    const p = mvfa([
      'predict',
      '--clip',
      clip,
      '--adapters',
      adapters,
      '--support',
      join(dir, 'normal'),
      '--support-augment',
      'none',
      '--json',
      '--quiet',
      ...images,
    ]);
    assert.equal(p.code, 0, p.stderr);
    const res = JSON.parse(p.stdout) as { results: { image: string; score: number; zero_det: number }[] };
    assert.deepEqual(
      res.results.map((x) => x.image),
      images,
    );
    let e = 0;
    for (const [i, x] of res.results.entries()) {
      e = Math.max(e, near(x.score, task === 'AC' ? ref.predict[i].score_ac : ref.predict[i].score_acas, 5e-5, `${task} ${x.image}`));
      near(x.zero_det, ref.predict[i].zero_det, 2e-5, `${x.image}: zero_det`);
    }
    t.diagnostic(`${task}: scores ${res.results.map((x) => x.score.toFixed(5)).join(' ')}; max error vs reference ${e.toExponential(2)}`);
  }
});

test('predict scores DICOM files and every axial slice of a NIfTI volume, reporting the volume maximum', () => {
  const adapters = join(dir, 'adapters.safetensors');
  const med = join(repo, 'fixtures/medical');
  const p = mvfa([
    'predict',
    '--clip',
    clip,
    '--adapters',
    adapters,
    '--json',
    '--quiet',
    join(med, 'CT_small.dcm'),
    join(med, 'MR_small_RLE.dcm'),
    join(med, 'syn_int16_slope.nii.gz'),
    join(med, 'MR_truncated.dcm'),
  ]);
  assert.equal(p.code, 1, p.stderr);
  assert.match(p.stderr, /MR_truncated\.dcm/);
  const res = JSON.parse(p.stdout) as {
    results: { image: string; score: number }[];
    volumes: Record<string, { slices: number; max: number }>;
    failures: unknown[];
  };
  assert.equal(res.failures.length, 1);
  const slices = res.results.filter((r) => r.image.includes('syn_int16_slope.nii.gz#z='));
  const vol = res.volumes[join(med, 'syn_int16_slope.nii.gz')];
  assert.ok(vol && vol.slices === slices.length && slices.length > 1, 'one result per axial slice');
  assert.equal(vol.max, Math.max(...slices.map((r) => r.score)));
  assert.ok(res.results.some((r) => r.image.endsWith('CT_small.dcm') && Number.isFinite(r.score)));
});

test('demo runs few-shot MVFA on the bundled images and writes AUROCs, overlays and a report', () => {
  const out = join(dir, 'demo');
  const r = mvfa(['demo', '--clip', clip, '--levels', '1,2', '--image-size', '56', '--epochs', '1', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { imageAuroc: number; pixelAuroc: number; report: string };
  assert.ok(res.imageAuroc >= 0 && res.imageAuroc <= 1 && res.pixelAuroc >= 0 && res.pixelAuroc <= 1);
  assert.ok(readFileSync(res.report, 'utf8').includes('<html'));
  assert.ok(readdirSync(join(out, 'overlays')).filter((f) => f.endsWith('.png')).length >= 2);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { images: number; perImage: { label: number; score: number }[] }[] };
  assert.equal(results.runs[0].images, 40);
  // The printed image AUROC is the pair-counting AUROC (ties one half) of the per-image scores the run wrote.
  const per = results.runs[0].perImage;
  assert.equal(per.length, 40);
  const pos = per.filter((p) => p.label === 1).map((p) => p.score);
  const neg = per.filter((p) => p.label === 0).map((p) => p.score);
  assert.ok(pos.length > 0 && neg.length > 0 && pos.length + neg.length === 40);
  let won = 0;
  for (const a of pos) for (const b of neg) won += a > b ? 1 : a === b ? 0.5 : 0;
  const byPairs = won / (pos.length * neg.length);
  assert.ok(Math.abs(res.imageAuroc - byPairs) <= 1e-12, `demo image AUROC ${res.imageAuroc} vs pair counting ${byPairs}`);
});

test('metrics auroc: a hand-computed case with ties, and 2 000 scores against brute-force pair counting', async (t) => {
  const auroc = async (scores: number[], labels: number[], name: string) => {
    await writeNpy(join(dir, `${name}.s.npy`), { dtype: 'float32', shape: [scores.length], data: Float32Array.from(scores) });
    await writeNpy(join(dir, `${name}.l.npy`), { dtype: 'float32', shape: [labels.length], data: Float32Array.from(labels) });
    const r = mvfa(['metrics', 'auroc', '--scores', join(dir, `${name}.s.npy`), '--labels', join(dir, `${name}.l.npy`)]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { auroc: number }).auroc;
  };
  // Positives 0.35, 0.8, 0.5; negatives 0.1, 0.5: pairs won 1+0+1+1+1+0.5 (tie) of 6 → 0.75.
  assert.equal(await auroc([0.1, 0.5, 0.35, 0.8, 0.5], [0, 0, 1, 1, 1], 'hand'), 0.75);
  const n = 2000;
  const scores = Array.from({ length: n }, (_, i) => Math.fround(Math.round(Math.sin(i * 12.9898) * 20) / 20));
  const labels = scores.map((s, i) => (Math.cos(i * 78.233) + s > 0.3 ? 1 : 0));
  let won = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++)
    if (labels[i] === 1)
      for (let j = 0; j < n; j++)
        if (labels[j] === 0) {
          pairs++;
          won += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
        }
  const got = await auroc(scores, labels, 'many');
  t.diagnostic(`AUROC ${got} vs pair counting ${won / pairs} (${pairs} pairs)`);
  assert.ok(Math.abs(got - won / pairs) <= 1e-12, `${got} vs ${won / pairs}`);
});

test('usage and data errors exit 2 naming the problem', async () => {
  const noOrgan = mvfa(['text-features', '--clip', clip, '--out', join(dir, 'x.npy')]);
  assert.equal(noOrgan.code, 2);
  assert.match(noOrgan.stderr, /--organ/);
  mkdirSync(join(dir, 'masks2'));
  for (const f of readdirSync(join(dir, 'masks'))) copyFileSync(join(dir, 'masks', f), join(dir, 'masks2', f));
  copyFileSync(join(dir, 'masks', readdirSync(join(dir, 'masks'))[0]), join(dir, 'masks2', 'orphan.png'));
  const orphan = mvfa([
    'train',
    '--clip',
    clip,
    '--organ',
    'x',
    '--normal',
    join(dir, 'normal'),
    '--abnormal',
    join(dir, 'abnormal'),
    '--masks',
    join(dir, 'masks2'),
    '--levels',
    '1,2',
    '--out',
    join(dir, 'o.safetensors'),
  ]);
  assert.equal(orphan.code, 2, orphan.stderr);
  assert.match(orphan.stderr, /orphan\.png: mask without an abnormal image/);
  mkdirSync(join(dir, 'masks3'));
  const first = readdirSync(join(dir, 'masks')).sort();
  for (const f of first.slice(1)) copyFileSync(join(dir, 'masks', f), join(dir, 'masks3', f));
  await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } })
    .png()
    .toFile(join(dir, 'masks3', first[0]));
  const wrongSize = mvfa([
    'train',
    '--clip',
    clip,
    '--organ',
    'x',
    '--normal',
    join(dir, 'normal'),
    '--abnormal',
    join(dir, 'abnormal'),
    '--masks',
    join(dir, 'masks3'),
    '--levels',
    '1,2',
    '--out',
    join(dir, 'o.safetensors'),
  ]);
  assert.equal(wrongSize.code, 2, wrongSize.stderr);
  assert.match(wrongSize.stderr, new RegExp(`${first[0].replace('.', '\\.')}: mask is \\d+×\\d+ but its image .* is \\d+×\\d+`));
  const badLevels = mvfa([
    'train',
    '--clip',
    clip,
    '--organ',
    'x',
    '--normal',
    join(dir, 'normal'),
    '--abnormal',
    join(dir, 'abnormal'),
    '--levels',
    '1,5',
    '--out',
    join(dir, 'o.safetensors'),
  ]);
  assert.notEqual(badLevels.code, 0);
  assert.match(badLevels.stderr, /adapter level 5 is outside blocks 1\.\.2/);
});
