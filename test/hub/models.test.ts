// Registry of known CLIP weights and resolveClipWeights / cachedClipWeights over the hub cache.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { HubError } from '../../src/hub/errors.ts';
import { KNOWN_MODELS, cachedClipWeights, knownModel, resolveClipWeights, type KnownModel } from '../../src/hub/models.ts';
import { FakeHub, sha256Hex } from './hub-server.ts';

const TIMM_COMMIT = '81e38efc4637de5023b10e75a7f9bd1c6fa6b010';
const TIMM_FILE = 'open_clip_model.safetensors';
const TIMM_SIZE = 1_711_828_444;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-hubmodels-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function timmSnapshot(cache: string): string {
  return join(cache, 'models--timm--vit_large_patch14_clip_336.openai', 'snapshots', TIMM_COMMIT, TIMM_FILE);
}

/** A file of the given size without writing its bytes (truncate extends it with a hole). */
function sparseFile(path: string, size: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '');
  truncateSync(path, size);
}

test('the default entry is the single safetensors file with both towers, pinned to a commit', () => {
  const m = knownModel('ViT-L-14-336');
  assert.equal(m.repo, 'timm/vit_large_patch14_clip_336.openai');
  assert.equal(m.filename, TIMM_FILE);
  assert.equal(m.revision, TIMM_COMMIT);
  assert.equal(m.size, TIMM_SIZE);
  assert.equal(knownModel('ViT-L/14@336px'), m);
  for (const [name, entry] of Object.entries(KNOWN_MODELS)) {
    assert.match(entry.filename, /\.safetensors$/, name);
    if (entry.sha256 !== undefined) assert.match(entry.sha256, /^[0-9a-f]{64}$/, name);
  }
});

test('an unknown model name lists the known ones', () => {
  assert.throws(
    () => knownModel('ViT-Q-99'),
    (e: unknown) => e instanceof HubError && e.code === 'ARGUMENT' && e.message.includes('ViT-L-14-336'),
  );
});

test('offline: a file saved at the snapshot path resolves; a missing one names the hub URL and that path', async () => {
  await withDir(async (cache) => {
    const env = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' };
    const err = await resolveClipWeights('ViT-L-14-336', { env }).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HubError && err.code === 'OFFLINE_NOT_CACHED');
    const url = `https://huggingface.co/timm/vit_large_patch14_clip_336.openai/resolve/${TIMM_COMMIT}/${TIMM_FILE}`;
    assert.ok(err.message.includes(`Download ${url} and save it as ${timmSnapshot(cache)}`), err.message);
    assert.equal(await cachedClipWeights(undefined, { cacheDir: cache }), null);

    sparseFile(timmSnapshot(cache), TIMM_SIZE);
    assert.equal(await resolveClipWeights('ViT-L-14-336', { env }), timmSnapshot(cache));
    assert.equal(await cachedClipWeights(undefined, { cacheDir: cache }), timmSnapshot(cache));
    assert.equal(await cachedClipWeights(undefined, { env: { HF_HOME: join(cache, '..', 'elsewhere') } }), null);
  });
});

test('a cached file of the wrong size is passed over by the lookup and refused by resolve', async () => {
  await withDir(async (cache) => {
    sparseFile(timmSnapshot(cache), 1000);
    assert.equal(await cachedClipWeights(undefined, { cacheDir: cache }), null);
    await assert.rejects(resolveClipWeights(undefined, { cacheDir: cache, offline: true }), (e: unknown) => e instanceof HubError && e.code === 'CACHE');
  });
});

test('resolveClipWeights downloads and verifies a registry entry', async () => {
  const data = randomBytes(1024 * 1024 + 33);
  const commit = '1111111111111111111111111111111111111111';
  const hub = await new FakeHub('acme/tiny-clip', commit, { 'clip.safetensors': { data, lfs: true } }).start();
  try {
    const entry: KnownModel = {
      repo: 'acme/tiny-clip',
      filename: 'clip.safetensors',
      revision: commit,
      sha256: sha256Hex(data),
      size: data.length,
      naming: 'open_clip',
      description: 'test',
    };
    await withDir(async (cache) => {
      const registry = { tiny: entry };
      const path = await resolveClipWeights('tiny', { registry, cacheDir: cache, endpoint: hub.endpoint });
      assert.equal(path, join(cache, 'models--acme--tiny-clip', 'snapshots', commit, 'clip.safetensors'));
      assert.ok(readFileSync(path).equals(data));
      assert.equal(await cachedClipWeights('tiny', { registry, cacheDir: cache }), path);
    });
    await withDir(async (cache) => {
      const registry = { wrong: { ...entry, sha256: 'cd'.repeat(32) } };
      await assert.rejects(
        resolveClipWeights('wrong', { registry, cacheDir: cache, endpoint: hub.endpoint }),
        (e: unknown) => e instanceof HubError && e.code === 'INTEGRITY',
      );
    });
  } finally {
    await hub.stop();
  }
});
