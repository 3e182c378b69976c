import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../../src/clip/factory.ts';
import { l2normalizeRows } from '../../src/clip/model.ts';
import { anomalyPrompts } from '../../src/clip/prompts.ts';
import { anomalyTextFeatures } from '../../src/clip/text-features.ts';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { writeSafetensors } from '../../src/io/weights/safetensors.ts';
import { fixture } from '../support/fixtures.ts';
import { tinyClipInputs, tinyClipTensors, writeTinyClip } from '../support/tiny-clip.ts';
import { bin, clipRef, digestMismatches, maxAbs, type ClipRef } from './clip-ref.ts';
import { toHfNames } from './hf-names.ts';

// Reference: scripts/fixtures/clip_ref.py builds the seeded tiny CLIP (vision 128×2 layers, text 64×2, patch 14,
// grid 24, exact GELU) and computes text embeddings of 4 seeded token rows and image embeddings of 3 seeded images at
// 240 px (positional embedding resized 24→17 as open_clip): fixtures/clip-ref/tiny. The same weights are generated
// here (test/support/tiny-clip.ts) and written as OpenAI- and HF-named safetensors. The torch formats (.pth state dict,
// TorchScript archive) are committed for a smaller layout (fixtures/clip-ref/formats: width 32, 1+1 blocks, grid 7,
// vocabulary 500) with its own reference.
const dir = mkdtempSync(join(tmpdir(), 'mvfa-clip-'));
const SMALL = { vwidth: 32, vlayers: 1, grid: 7, twidth: 32, tlayers: 1, vocab: 500 };
let tiny: ClipRef;
let small: ClipRef;

before(async () => {
  tiny = clipRef('tiny');
  small = clipRef('formats');
  await writeTinyClip(dir);
  await writeSafetensors(join(dir, 'tiny_hf.safetensors'), toHfNames(tinyClipTensors()));
});

test('the generated tiny CLIPs hold exactly the weights clip_ref.py built', () => {
  assert.deepEqual(digestMismatches(tinyClipTensors(), tiny.weights_sha256), []);
  assert.deepEqual(digestMismatches(tinyClipTensors(SMALL), small.weights_sha256), []);
  assert.deepEqual(
    digestMismatches(tinyClipTensors({ seed: 1 }), tiny.weights_sha256),
    [...tinyClipTensors().keys()].filter((k) => k !== 'logit_scale'),
    'another seed changes every tensor but the constant logit_scale',
  );
});

const cases: [string, () => string, () => ClipRef, number][] = [
  ['tiny.safetensors', () => join(dir, 'tiny.safetensors'), () => tiny, 128],
  ['tiny_hf.safetensors', () => join(dir, 'tiny_hf.safetensors'), () => tiny, 128],
  ['tiny.pth (committed, small layout)', () => fixture('clip-ref', 'formats', 'tiny.pth'), () => small, 32],
  ['tiny_jit.pt (committed, small layout)', () => fixture('clip-ref', 'formats', 'tiny_jit.pt'), () => small, 32],
];
for (const [name, path, refOf, width] of cases) {
  test(`text and image embeddings match PyTorch: ${name}`, async (t) => {
    const ref = refOf();
    const m = await loadClip(path());
    const L = ref.layout;
    assert.deepEqual(m.config.vision, { width, layers: L.vlayers, heads: L.vision_heads, patchSize: 14, gridSize: L.grid, outputDim: 32 });
    assert.equal(m.config.text?.contextLength, 77);
    assert.equal(m.config.text?.vocabSize, L.vocab);
    if (width === 32) assert.deepEqual(digestMismatches(m.weights, ref.weights_sha256), [], 'weights read from the torch file');
    const { ids, images } = tinyClipInputs(L.seed, ref.image_size, L.vocab);
    const text = await m.encodeTokens(ids, ref.n_texts);
    const et = maxAbs(text, ref.text_embeddings);
    const img = l2normalizeRows(await m.encodeImages(images, ref.n_images, ref.image_size), 32);
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
  // The reference was computed from these token rows: they must still be what the tokenizer gives.
  const ids = ClipTokenizer.load().tokenize([...normal, ...abnormal], 77);
  assert.deepEqual(ids, bin(fixture('clip-ref', 'tiny', 'prompt_ids.bin'), Int32Array));
  const expected = bin(fixture('clip-ref', 'tiny', 'features.bin'), Float32Array);
  const got = await anomalyTextFeatures(m, 'Chest X-ray film');
  const e = maxAbs(got, expected);
  t.diagnostic(`text features max abs error ${e.toExponential(2)}`);
  assert.ok(e <= 1e-5, `text features differ by ${e}`);
  await m.release();
});

test('inconsistent or unexpected tensors are refused before any compute, naming file and key', async () => {
  const { readSafetensors } = await import('../../src/io/weights/safetensors.ts');
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
