import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

// The few-shot protocol end to end on a small real dataset (a BUSI_AD subset) with a random tiny CLIP; the reported
// metrics are recomputed independently in Python (scikit-learn) from `mvfa predict --dump` outputs of the same adapters.
const repo = new URL('../../', import.meta.url).pathname;
const busi = join(repo, '../shared/data/BUSI_AD');

function mvfa(args: string[], cache: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repo, 'bin/mvfa.js'), ...args], { encoding: 'utf8', env: { ...process.env, MVFA_CACHE: cache } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('bench few: metrics equal scikit-learn on the official fusion of the dumped maps', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-bench-'));
  execFileSync('/usr/bin/python3', [join(repo, 'scripts/fixtures/clip_ref.py'), dir]);
  const ds = join(dir, 'SMALL_AD');
  cpSync(join(busi, 'valid'), join(ds, 'valid'), { recursive: true });
  cpSync(join(busi, 'fewshot_seed'), join(ds, 'fewshot_seed'), { recursive: true });
  for (const cls of ['good', 'Ungood']) {
    mkdirSync(join(ds, 'test', cls, 'img'), { recursive: true });
    const names = readdirSync(join(busi, 'test', cls, 'img'))
      .sort()
      .slice(0, 6);
    for (const n of names) copyFileSync(join(busi, 'test', cls, 'img', n), join(ds, 'test', cls, 'img', n));
    if (cls === 'Ungood') {
      mkdirSync(join(ds, 'test', cls, 'anomaly_mask'));
      for (const n of names) copyFileSync(join(busi, 'test', cls, 'anomaly_mask', n), join(ds, 'test', cls, 'anomaly_mask', n));
    }
  }
  const out = join(dir, 'report');
  const common = ['--clip', join(dir, 'tiny.safetensors'), '--levels', '1,2', '--image-size', '56'];
  const r = mvfa(
    [
      'bench',
      'few',
      ...common,
      '--data',
      dir,
      '--dataset',
      'SMALL_AD',
      '--organ',
      'breast ultrasound',
      '--shots',
      '2',
      '--epochs',
      '1',
      '--out',
      out,
      '--json',
    ],
    join(dir, 'cache'),
  );
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    runs: { split: { normals: string[] }; metrics: { imageAuroc: number; pixelAuroc: number; imageMaxF1: number } }[];
  };
  for (const f of ['report.html', 'results.md']) assert.ok(readFileSync(join(out, f), 'utf8').length > 100);
  const run = res.runs[0];
  assert.equal(run.split.normals.length, 2);
  // Same adapters, same memory bank (the split's normals ×11), raw maps dumped for every test image.
  const support = join(dir, 'support');
  mkdirSync(support);
  for (const p of run.split.normals) copyFileSync(p, join(support, basename(p)));
  const dump = join(dir, 'dump');
  const p = mvfa(
    [
      'predict',
      ...common,
      '--adapters',
      join(out, 'adapters_run0.safetensors'),
      '--support',
      support,
      '--dump',
      dump,
      '--quiet',
      join(ds, 'test/good/img'),
      join(ds, 'test/Ungood/img'),
    ],
    join(dir, 'cache'),
  );
  assert.equal(p.code, 0, p.stderr);
  const py = `
import json, sys, os, numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score
ds, dump = sys.argv[1], sys.argv[2]
z, f, gt, lab = [], [], [], []
for cls, y in (("good", 0), ("Ungood", 1)):
    for n in sorted(os.listdir(os.path.join(ds, "test", cls, "img"))):
        s = n[:-4]
        z.append(np.load(os.path.join(dump, s + ".zero_seg.npy")))
        f.append(np.load(os.path.join(dump, s + ".few_seg.npy")))
        if y:
            m = Image.open(os.path.join(ds, "test", cls, "anomaly_mask", n)).convert("L").resize((56, 56), Image.NEAREST)
            gt.append((np.asarray(m, dtype=np.float32) / 255.0 > 0.5).astype(np.uint8))
        else:
            gt.append(np.zeros((56, 56), np.uint8))
        lab.append(y)
z, f, gt = np.stack(z), np.stack(f), np.stack(gt)
fused = 0.5 * (z - z.min()) / (z.max() - z.min()) + 0.5 * (f - f.min()) / (f.max() - f.min())
print(json.dumps({"pixel": roc_auc_score(gt.ravel(), fused.ravel()), "image": roc_auc_score(lab, fused.reshape(len(lab), -1).max(axis=1))}))
`;
  writeFileSync(join(dir, 'check.py'), py);
  const ref = JSON.parse(execFileSync('/usr/bin/python3', [join(dir, 'check.py'), ds, dump], { encoding: 'utf8' })) as { pixel: number; image: number };
  t.diagnostic(`image AUROC ${run.metrics.imageAuroc} vs ${ref.image}; pixel AUROC ${run.metrics.pixelAuroc} vs ${ref.pixel}`);
  // The fused maps are recomputed in float64 by numpy from float32 dumps; rank ties may resolve differently only
  // at float rounding level, far below 1e-4 of AUROC on 12 × 3 136 pixels.
  assert.ok(Math.abs(run.metrics.pixelAuroc - ref.pixel) < 1e-4, 'pixel AUROC');
  assert.ok(Math.abs(run.metrics.imageAuroc - ref.image) < 1e-9, 'image AUROC');
});
