import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { toFloat32 } from '../../src/io/tensor.ts';
import { anomalyPrompts } from '../../src/clip/prompts.ts';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { openSafetensors } from '../../src/io/safetensors.ts';

// End-to-end runs of the `mvfa` command on a random tiny CLIP (scripts/fixtures/clip_ref.py) and real BUSI images.
const dir = mkdtempSync(join(tmpdir(), 'mvfa-cli-'));
const repo = new URL('../../', import.meta.url).pathname;
const busi = join(repo, '../shared/data/BUSI_AD/valid');
const clipRef = join(repo, 'scripts/fixtures/clip_ref.py');
const clip = join(dir, 'tiny.safetensors');

function mvfa(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repo, 'bin/mvfa.js'), ...args], { encoding: 'utf8', env: { ...process.env, MVFA_CACHE: join(dir, 'cache') } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function bin(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

before(() => {
  execFileSync('/usr/bin/python3', [clipRef, dir], { stdio: 'inherit' });
  // A tiny few-shot set: 3 normal, 3 abnormal with masks, from BUSI_AD/valid.
  for (const sub of ['normal', 'abnormal', 'masks']) mkdirSync(join(dir, sub));
  const good = readdirSync(join(busi, 'good/img')).sort().slice(0, 3);
  const bad = readdirSync(join(busi, 'Ungood/img')).sort().slice(0, 3);
  for (const f of good) copyFileSync(join(busi, 'good/img', f), join(dir, 'normal', f));
  for (const f of bad) {
    copyFileSync(join(busi, 'Ungood/img', f), join(dir, 'abnormal', f));
    copyFileSync(join(busi, 'Ungood/anomaly_mask', f), join(dir, 'masks', f));
  }
});

test('text-features writes float32 [2, D] equal to the PyTorch reference', (t) => {
  const out = join(dir, 'text.npy');
  const r = mvfa(['text-features', '--clip', clip, '--organ', 'Brain', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const [normal, abnormal] = anomalyPrompts('Brain');
  writeFileSync(join(dir, 'ids.bin'), new Uint8Array(ClipTokenizer.load().tokenize([...normal, ...abnormal], 77).buffer));
  execFileSync('/usr/bin/python3', [clipRef, dir, '--features-from', join(dir, 'ids.bin'), '--n-normal', String(normal.length)]);
  return readNpy(out).then((got) => {
    assert.equal(got.dtype, 'float32');
    assert.deepEqual(got.shape, [2, 32]);
    const e = maxAbs(toFloat32(got), bin(join(dir, 'features.bin')));
    t.diagnostic(`max abs error ${e.toExponential(2)}`);
    assert.ok(e <= 1e-5);
    // An existing output is not overwritten without --force.
    const again = mvfa(['text-features', '--clip', clip, '--organ', 'Brain', '--out', out]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
  });
});

test('embed writes [N, D] rows in input order, equal to PyTorch on PIL-decoded images', async (t) => {
  const imgs = readdirSync(join(dir, 'normal')).map((f) => join(dir, 'normal', f));
  const out = join(dir, 'emb.npy');
  const r = mvfa(['embed', '--clip', clip, '--out', out, ...imgs]);
  assert.equal(r.code, 0, r.stderr);
  execFileSync('/usr/bin/python3', [clipRef, dir, '--embed-images', ...imgs]);
  const got = await readNpy(out);
  assert.deepEqual(got.shape, [imgs.length, 32]);
  const ref = bin(join(dir, 'embed.bin'));
  const g = toFloat32(got);
  // Compare L2-normalised rows.
  let e = 0;
  for (let i = 0; i < imgs.length; i++) {
    const a = g.subarray(i * 32, (i + 1) * 32);
    const b = ref.subarray(i * 32, (i + 1) * 32);
    const na = Math.hypot(...a);
    const nb = Math.hypot(...b);
    for (let k = 0; k < 32; k++) e = Math.max(e, Math.abs(a[k] / na - b[k] / nb));
  }
  t.diagnostic(`normalised max abs error ${e.toExponential(2)}`);
  assert.ok(e <= 1e-4);
});

test('train then predict: adapters with calibration, dumps, scores, overlays; a bad image fails alone with exit 1', async () => {
  const adapters = join(dir, 'adapters.safetensors');
  const r = mvfa([
    'train',
    '--clip',
    clip,
    '--organ',
    'breast ultrasound',
    '--normal',
    join(dir, 'normal'),
    '--abnormal',
    join(dir, 'abnormal'),
    '--masks',
    join(dir, 'masks'),
    '--epochs',
    '2',
    '--augment',
    'none',
    '--levels',
    '1,2',
    '--image-size',
    '56',
    '--out',
    adapters,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { steps: number; finalLoss: number };
  assert.equal(summary.steps, 12);
  assert.ok(Number.isFinite(summary.finalLoss));
  const f = await openSafetensors(adapters);
  assert.equal(f.metadata?.levels, '1,2');
  assert.equal(f.metadata?.organ, 'breast ultrasound');
  const cal = JSON.parse(f.metadata!.calibration) as { task: string; fewSeg: unknown };
  assert.equal(cal.task, 'AC+AS');
  assert.ok(cal.fewSeg);
  f.close();
  assert.ok(!existsSync(`${adapters}.state`), 'the resumable state is removed after a finished run');

  const images = readdirSync(join(dir, 'abnormal')).map((x) => join(dir, 'abnormal', x));
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
    ...images,
    broken,
  ]);
  assert.equal(p.code, 1, p.stderr);
  assert.match(p.stderr, /broken\.png: cannot decode image/);
  const res = JSON.parse(p.stdout) as { results: { image: string; score: number }[]; failures: { input: string }[] };
  assert.equal(res.results.length, 3);
  assert.equal(res.failures.length, 1);
  for (const x of res.results) assert.ok(Number.isFinite(x.score));
  const scores = JSON.parse(readFileSync(join(dump, 'scores.json'), 'utf8')) as Record<string, { zero_det: number; few_det: number }>;
  assert.equal(Object.keys(scores).length, 3);
  for (const img of images) {
    const s = img.split('/').at(-1)!.replace('.png', '');
    for (const kind of ['zero_seg', 'few_seg', 'few_det']) {
      const a = await readNpy(join(dump, `${s}.${kind}.npy`));
      assert.deepEqual(a.shape, [56, 56]);
    }
    assert.ok(existsSync(join(out, `${s}.png`)));
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
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { images: number }[] };
  assert.equal(results.runs[0].images, 40);
});

test('metrics auroc equals scikit-learn', async () => {
  const n = 2000;
  const scores = new Float32Array(n).map((_, i) => Math.round(Math.sin(i * 12.9898) * 20) / 20);
  const labels = new Float32Array(n).map((_, i) => (Math.cos(i * 78.233) + scores[i] > 0.3 ? 1 : 0));
  await writeNpy(join(dir, 's.npy'), { dtype: 'float32', shape: [n], data: scores });
  await writeNpy(join(dir, 'l.npy'), { dtype: 'float32', shape: [n], data: labels });
  const r = mvfa(['metrics', 'auroc', '--scores', join(dir, 's.npy'), '--labels', join(dir, 'l.npy')]);
  assert.equal(r.code, 0, r.stderr);
  const got = (JSON.parse(r.stdout) as { auroc: number }).auroc;
  const ref = Number(
    execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        `import numpy as np; from sklearn.metrics import roc_auc_score; print(repr(roc_auc_score(np.load('${join(dir, 'l.npy')}'), np.load('${join(dir, 's.npy')}'))))`,
      ],
      { encoding: 'utf8' },
    ),
  );
  assert.ok(Math.abs(got - ref) <= 1e-12, `${got} vs ${ref}`);
});

test('usage and data errors exit 2 naming the problem', () => {
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
  writeFileSync(
    join(dir, 'masks3', first[0]),
    readFileSync(join(repo, 'demo/BUSI_demo_AD/test/Ungood/anomaly_mask', readdirSync(join(repo, 'demo/BUSI_demo_AD/test/Ungood/anomaly_mask'))[0])),
  );
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
