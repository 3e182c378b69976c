import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The zero-shot leave-one-out protocol end to end: two small sets in BMAD layout built from real BUSI images
// (an AC+AS "Brain" and an AC-only "Histopathology" without the img/ level), random tiny CLIP.
const repo = new URL('../../', import.meta.url).pathname;
const busi = join(repo, '../shared/data/BUSI_AD/test');

function copySet(root: string, key: string, withMasks: boolean, imgLevel: boolean, offset: number): void {
  for (const cls of ['good', 'Ungood']) {
    const dst = join(root, `${key}_AD`, 'test', cls, imgLevel ? 'img' : '');
    mkdirSync(dst, { recursive: true });
    const names = readdirSync(join(busi, cls, 'img'))
      .sort()
      .slice(offset, offset + 3);
    for (const n of names) copyFileSync(join(busi, cls, 'img', n), join(dst, n));
    if (withMasks && cls === 'Ungood') {
      mkdirSync(join(root, `${key}_AD`, 'test', cls, 'anomaly_mask'));
      for (const n of names) copyFileSync(join(busi, cls, 'anomaly_mask', n), join(root, `${key}_AD`, 'test', cls, 'anomaly_mask', n));
    }
    mkdirSync(join(root, `${key}_AD`, 'valid', cls, imgLevel ? 'img' : ''), { recursive: true });
    copyFileSync(join(busi, cls, 'img', names[0]), join(root, `${key}_AD`, 'valid', cls, imgLevel ? 'img' : '', names[0]));
    if (withMasks && cls === 'Ungood') {
      mkdirSync(join(root, `${key}_AD`, 'valid', cls, 'anomaly_mask'));
      copyFileSync(join(busi, cls, 'anomaly_mask', names[0]), join(root, `${key}_AD`, 'valid', cls, 'anomaly_mask', names[0]));
    }
  }
}

test('bench zero: trains on the other datasets and evaluates the target with the text branch', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-zero-'));
  execFileSync('/usr/bin/python3', [join(repo, 'scripts/fixtures/clip_ref.py'), dir]);
  const data = join(dir, 'data');
  copySet(data, 'Brain', true, true, 0);
  copySet(data, 'Histopathology', false, false, 10);
  const out = join(dir, 'report');
  const r = spawnSync(
    process.execPath,
    [
      join(repo, 'bin/mvfa.js'),
      'bench',
      'zero',
      '--clip',
      join(dir, 'tiny.safetensors'),
      '--data',
      data,
      '--target',
      'Brain',
      '--epochs',
      '1',
      '--levels',
      '1,2',
      '--image-size',
      '56',
      '--out',
      out,
      '--json',
    ],
    { encoding: 'utf8', env: { ...process.env, MVFA_CACHE: join(dir, 'cache') } },
  );
  assert.equal(r.status, 0, r.stderr);
  const line = JSON.parse(r.stdout) as { dataset: string; imageAuroc: number; pixelAuroc: number };
  assert.equal(line.dataset, 'Brain');
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { images: number; perImage: { label: number; score: number }[] }[] };
  assert.equal(res.runs[0].images, 6);
  // Image scores are the det head's summed mean probabilities (one per level): in (0, 2].
  for (const p of res.runs[0].perImage) assert.ok(p.score > 0 && p.score <= 2);
  assert.ok(line.pixelAuroc >= 0 && line.pixelAuroc <= 1);
  t.diagnostic(`image AUROC ${line.imageAuroc}, pixel AUROC ${line.pixelAuroc} (random weights: meaningless)`);
});
