import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultHeads } from '../../src/clip/config.ts';
import { loadClip } from '../../src/clip/factory.ts';
import { l2normalizeRows } from '../../src/clip/model.ts';
import { main } from '../../src/cli/main.ts';
import { imageTensor } from '../../src/cli/model-loading.ts';
import { readNpy } from '../../src/io/weights/npy.ts';
import { toFloat32 } from '../../src/io/weights/tensor.ts';
import { REPO } from '../support/fixtures.ts';
import { tinyClipInputs, tinyClipTensors, writeTinyClip } from '../support/tiny-clip.ts';
import { clipRef, digestMismatches, maxAbs, type ClipRef } from './clip-ref.ts';

// A vision tower of width 96 (not a multiple of 64) against PyTorch: clip_ref.py --vwidth 96 builds it with
// width // 64 = 1 head (as OpenAI's build_model and OpenCLIP), and with --heads 3 (fixtures/clip-ref/width96*).
const dir = mkdtempSync(join(tmpdir(), 'mvfa-heads-'));
let path: string;
before(async () => {
  path = await writeTinyClip(dir, { vwidth: 96 });
});

async function imageError(ref: ClipRef, options: Parameters<typeof loadClip>[1]): Promise<{ err: number; heads: number }> {
  const m = await loadClip(path, options);
  const { images } = tinyClipInputs(ref.layout.seed, ref.image_size);
  const got = l2normalizeRows(await m.encodeImages(images, ref.n_images, ref.image_size), 32);
  const err = maxAbs(got, l2normalizeRows(Float32Array.from(ref.image_embeddings), 32));
  const heads = m.config.vision.heads;
  await m.release();
  return { err, heads };
}

test('default head count is width // 64, at least 1', () => {
  assert.deepEqual([32, 64, 96, 128, 768, 1024, 1280].map(defaultHeads), [1, 1, 1, 2, 12, 16, 20]);
});

test('a width-96 vision tower loads with 1 head and matches PyTorch', async (t) => {
  const ref = clipRef('width96');
  assert.equal(ref.layout.vision_heads, 1);
  assert.deepEqual(digestMismatches(tinyClipTensors({ vwidth: 96 }), ref.weights_sha256), []);
  const { err, heads } = await imageError(ref, {});
  t.diagnostic(`normalised image embedding max abs error ${err.toExponential(2)}`);
  assert.equal(heads, 1);
  assert.ok(err <= 1e-4, `image embeddings differ by ${err}`);
});

test('an explicit vision head count (3 for width 96) matches PyTorch, and the count matters', async (t) => {
  const ref = clipRef('width96-heads3');
  assert.equal(ref.layout.vision_heads, 3);
  const { err, heads } = await imageError(ref, { visionHeads: 3 });
  t.diagnostic(`normalised image embedding max abs error ${err.toExponential(2)}`);
  assert.equal(heads, 3);
  assert.ok(err <= 1e-4, `image embeddings differ by ${err}`);
  const wrong = await imageError(ref, {});
  assert.ok(wrong.err > 1e-3, `1 head should not reproduce the 3-head reference (error ${wrong.err})`);
});

test('head counts that do not divide the width are refused, naming tower and file', async () => {
  await assert.rejects(loadClip(path, { visionHeads: 5 }), /tiny\.safetensors: vision width 96 is not divisible by 5 heads/);
  await assert.rejects(loadClip(path, { heads: 3 }), /tiny\.safetensors: text width 64 is not divisible by 3 heads/);
  await assert.rejects(loadClip(path, { textHeads: 0 }), /text head count must be a positive integer, got 0/);
  const m = await loadClip(path, { heads: 2 });
  assert.deepEqual([m.config.vision.heads, m.config.text?.heads], [2, 2]);
});

test('CLI: --vision-heads reaches the model (mvfa embed), --vision-heads 0 is a usage error', async () => {
  const png = join(REPO, 'demo/BUSI_demo_AD/valid/good/img/busi_0147.png');
  const embed = async (...flags: string[]) => {
    const out = join(dir, `emb${flags.join('')}.npy`);
    const code = await main(['node', 'mvfa', '--quiet', ...flags, 'embed', '--clip', path, '--image-size', '112', '--out', out, png]);
    assert.equal(code, 0);
    return toFloat32(await readNpy(out));
  };
  const m = await loadClip(path, { visionHeads: 3 });
  const three = await embed('--vision-heads', '3');
  const one = await embed();
  const lib = await m.encodeImages(await imageTensor(png, 112), 1, 112);
  await m.release();
  assert.ok(maxAbs(three, lib) <= 1e-6, 'the flag gives the 3-head model');
  assert.ok(maxAbs(one, lib) > 1e-3, 'without the flag: 1 head');
  assert.equal(await main(['node', 'mvfa', '--quiet', '--vision-heads', '0', 'embed', '--clip', path, '--out', join(dir, 'x.npy'), png]), 2);
});
