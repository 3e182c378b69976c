import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mvfa, loadClip, loadImageTensor, predict, train } from '../src/index.ts';

// The README's library example, on a random tiny CLIP (4 blocks, adapters at 2 and 4, 56 px) and real BUSI images.
test('README library example: loadClip → train → Mvfa.load → setSupport → predict', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-api-'));
  process.env.MVFA_CACHE = join(dir, 'cache');
  execFileSync('/usr/bin/python3', [new URL('../scripts/fixtures/clip_ref.py', import.meta.url).pathname, dir, '--vlayers', '4']);
  const busi = new URL('../../shared/data/BUSI_AD/valid/', import.meta.url).pathname;
  for (const s of ['good', 'bad', 'masks']) mkdirSync(join(dir, s));
  const good = readdirSync(join(busi, 'good/img')).sort().slice(0, 2);
  const bad = readdirSync(join(busi, 'Ungood/img')).sort().slice(0, 2);
  for (const f of good) copyFileSync(join(busi, 'good/img', f), join(dir, 'good', f));
  for (const f of bad) {
    copyFileSync(join(busi, 'Ungood/img', f), join(dir, 'bad', f));
    copyFileSync(join(busi, 'Ungood/anomaly_mask', f), join(dir, 'masks', f));
  }
  const clip = await loadClip(join(dir, 'tiny.safetensors'));
  const { checkpoint, losses } = await train(clip, {
    organ: 'breast ultrasound',
    normalDir: join(dir, 'good'),
    abnormalDir: join(dir, 'bad'),
    masksDir: join(dir, 'masks'),
    epochs: 1,
    augment: 'none',
    levels: [2, 4],
    imageSize: 56,
    out: join(dir, 'adapters.safetensors'),
  });
  assert.equal(losses.length, 4);
  assert.ok(checkpoint.calibration);
  const model = await Mvfa.load(clip, join(dir, 'adapters.safetensors'));
  assert.equal(model.imageSize, 56);
  assert.deepEqual(model.adapters.levels, [2, 4]);
  await model.setSupport(await Promise.all(good.map(async (f) => (await loadImageTensor(join(dir, 'good', f), { size: 56 })).tensor)));
  const r = await predict(model, join(dir, 'bad', bad[0]));
  assert.ok(Number.isFinite(r.score));
  assert.equal(r.map.length, 56 * 56);
  assert.ok(r.raw.fewSeg, 'AC+AS adapters score with the seg memory bank');
  await model.release();
  await clip.release();
});
