import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../../src/clip/factory.ts';
import { l2normalizeRows } from '../../src/clip/model.ts';
import { anomalyPrompts } from '../../src/clip/prompts.ts';
import { anomalyTextFeatures } from '../../src/clip/text-features.ts';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';

// Reference: scripts/fixtures/clip_ref.py builds a random tiny CLIP (vision 128×2 layers, text 64×2, patch 14, grid 24,
// exact GELU), saves it as safetensors, state-dict .pth, TorchScript archive and HF-named safetensors, and computes
// text embeddings and image embeddings at 240 px (positional embedding resized 24→17 as open_clip).
const dir = mkdtempSync(join(tmpdir(), 'mvfa-clip-'));
const script = new URL('../../scripts/fixtures/clip_ref.py', import.meta.url).pathname;
interface Ref {
  image_size: number;
  n_images: number;
  n_texts: number;
  image_embeddings: number[];
  text_embeddings: number[];
}
let ref: Ref;

function bin<T>(file: string, ctor: new (b: ArrayBuffer) => T): T {
  const b = readFileSync(file);
  return new ctor(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

before(() => {
  execFileSync('/usr/bin/python3', [script, dir], { stdio: 'inherit' });
  ref = JSON.parse(readFileSync(join(dir, 'ref.json'), 'utf8')) as Ref;
});

for (const file of ['tiny.safetensors', 'tiny.pth', 'tiny_jit.pt', 'tiny_hf.safetensors']) {
  test(`text and image embeddings match PyTorch: ${file}`, async (t) => {
    const m = await loadClip(join(dir, file));
    assert.deepEqual(m.config.vision, { width: 128, layers: 2, heads: 2, patchSize: 14, gridSize: 24, outputDim: 32 });
    assert.equal(m.config.text?.contextLength, 77);
    const text = await m.encodeTokens(bin(join(dir, 'text_ids.bin'), Int32Array), ref.n_texts);
    const et = maxAbs(text, ref.text_embeddings);
    const img = l2normalizeRows(await m.encodeImages(bin(join(dir, 'images.bin'), Float32Array), ref.n_images, ref.image_size), 32);
    const ei = maxAbs(img, l2normalizeRows(Float32Array.from(ref.image_embeddings), 32));
    t.diagnostic(`max abs error: text ${et.toExponential(2)}, normalised image ${ei.toExponential(2)}`);
    assert.ok(et <= 1e-5, `text embeddings differ by ${et}`);
    assert.ok(ei <= 1e-4, `image embeddings differ by ${ei}`);
    await m.release();
  });
}

test('MVFA text features (420 prompts, ensemble means) match PyTorch', async (t) => {
  const m = await loadClip(join(dir, 'tiny.safetensors'));
  const [normal, abnormal] = anomalyPrompts('Chest X-ray film');
  assert.equal(normal.length, 245);
  assert.equal(abnormal.length, 175);
  const ids = ClipTokenizer.load().tokenize([...normal, ...abnormal], 77);
  writeFileSync(join(dir, 'ids.bin'), new Uint8Array(ids.buffer));
  execFileSync('/usr/bin/python3', [script, dir, '--features-from', join(dir, 'ids.bin'), '--n-normal', '245']);
  const expected = bin(join(dir, 'features.bin'), Float32Array);
  const got = await anomalyTextFeatures(m, 'Chest X-ray film');
  const e = maxAbs(got, expected);
  t.diagnostic(`text features max abs error ${e.toExponential(2)}`);
  assert.ok(e <= 1e-5, `text features differ by ${e}`);
  await m.release();
});

test('inconsistent or unexpected tensors are refused before any compute, naming file and key', async () => {
  const { readSafetensors, writeSafetensors } = await import('../../src/io/safetensors.ts');
  const raw = await readSafetensors(join(dir, 'tiny.safetensors'));
  const bad = new Map(raw);
  const t = bad.get('visual.ln_post.weight')!;
  bad.set('visual.ln_post.weight', { ...t, shape: [t.shape[0] / 2], data: (t.data as Float32Array).subarray(0, t.shape[0] / 2) });
  await writeSafetensors(join(dir, 'bad_shape.safetensors'), bad);
  await assert.rejects(loadClip(join(dir, 'bad_shape.safetensors')), /bad_shape\.safetensors: visual\.ln_post\.weight: shape \[64\] does not match \[128\]/);
  const extra = new Map(raw);
  extra.set('visual.surprise', t);
  await writeSafetensors(join(dir, 'extra.safetensors'), extra);
  await assert.rejects(loadClip(join(dir, 'extra.safetensors')), /extra\.safetensors: visual\.surprise: unexpected tensor/);
  const missing = new Map(raw);
  missing.delete('visual.proj');
  await writeSafetensors(join(dir, 'missing.safetensors'), missing);
  await assert.rejects(loadClip(join(dir, 'missing.safetensors')), /missing\.safetensors: visual\.proj: missing tensor/);
});
