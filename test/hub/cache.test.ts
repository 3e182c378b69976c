// Hub cache layout: directory from the environment, snapshot/blob/ref paths, refs, cached-file lookup, snapshot links.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findCachedFile, hubCacheDir, linkSnapshot, readRef, refPath, repoFolderName, snapshotPath, writeRef } from '../../src/hub/cache.ts';
import { HubError } from '../../src/hub/errors.ts';
import { hubFileUrl, normalizeEtag } from '../../src/hub/metadata.ts';

const COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-hubcache-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('cache directory: HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub', () => {
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/data/hub', HF_HOME: '/data/hf' }), '/data/hub');
  assert.equal(hubCacheDir({ HF_HOME: '/data/hf' }), join('/data/hf', 'hub'));
  assert.equal(hubCacheDir({}), join(homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '' }), join(homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/xdg' }), join('/xdg', 'huggingface', 'hub'));
  assert.equal(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/legacy', HF_HOME: '/data/hf' }), '/legacy');
  assert.equal(hubCacheDir({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'));
});

test('paths follow the huggingface_hub layout', () => {
  assert.equal(repoFolderName('timm/vit_large_patch14_clip_336.openai'), 'models--timm--vit_large_patch14_clip_336.openai');
  assert.equal(snapshotPath('/c', 'org/name', COMMIT, 'sub/file.json'), join('/c', 'models--org--name', 'snapshots', COMMIT, 'sub', 'file.json'));
  assert.equal(refPath('/c', 'org/name', 'refs/pr/8'), join('/c', 'models--org--name', 'refs', 'refs', 'pr', '8'));
});

test('resolve URLs escape the revision entirely and the file name per segment', () => {
  assert.equal(
    hubFileUrl('https://huggingface.co/', 'openai/clip-vit-large-patch14-336', 'refs/pr/8', 'model.safetensors'),
    'https://huggingface.co/openai/clip-vit-large-patch14-336/resolve/refs%2Fpr%2F8/model.safetensors',
  );
  assert.equal(hubFileUrl('http://h', 'a/b', 'main', 'dir x/f#1.json'), 'http://h/a/b/resolve/main/dir%20x/f%231.json');
});

test('ETags lose quotes and the weak prefix', () => {
  assert.equal(normalizeEtag('"abc123"'), 'abc123');
  assert.equal(normalizeEtag('W/"abc123"'), 'abc123');
  assert.equal(normalizeEtag(null), undefined);
});

test('refs: written for branches, skipped for commit ids, read back', async () => {
  await withDir(async (dir) => {
    assert.equal(await readRef(dir, 'org/name', 'main'), undefined);
    await writeRef(dir, 'org/name', 'main', COMMIT);
    assert.equal(readFileSync(join(dir, 'models--org--name', 'refs', 'main'), 'utf8'), COMMIT);
    assert.equal(await readRef(dir, 'org/name', 'main'), COMMIT);
    await writeRef(dir, 'org/name', COMMIT, COMMIT);
    assert.equal(await readRef(dir, 'org/name', COMMIT), undefined);
  });
});

test('cached-file lookup goes through refs, accepts commit ids, ignores dangling links', async () => {
  await withDir(async (dir) => {
    const snap = join(dir, 'models--org--name', 'snapshots', COMMIT);
    mkdirSync(snap, { recursive: true });
    writeFileSync(join(snap, 'w.bin'), 'weights');
    assert.equal(await findCachedFile(dir, 'org/name', 'w.bin', 'main'), undefined);
    assert.equal(await findCachedFile(dir, 'org/name', 'w.bin', COMMIT), join(snap, 'w.bin'));
    mkdirSync(join(dir, 'models--org--name', 'refs'));
    writeFileSync(join(dir, 'models--org--name', 'refs', 'main'), `${COMMIT}\n`);
    assert.equal(await findCachedFile(dir, 'org/name', 'w.bin'), join(snap, 'w.bin'));
    symlinkSync(join('..', '..', 'blobs', 'gone'), join(snap, 'dangling.bin'));
    assert.equal(await findCachedFile(dir, 'org/name', 'dangling.bin', COMMIT), undefined);
    await assert.rejects(findCachedFile(dir, 'org/name', '../../x', COMMIT), HubError);
  });
});

test('snapshot pointers: relative symlink replacing an old one, a copy where symlinks fail', async () => {
  await withDir(async (dir) => {
    const blobs = join(dir, 'blobs');
    mkdirSync(blobs);
    writeFileSync(join(blobs, 'one'), 'first');
    writeFileSync(join(blobs, 'two'), 'second');
    const pointer = join(dir, 'snapshots', COMMIT, 'sub', 'f.bin');
    assert.equal(await linkSnapshot(join(blobs, 'one'), pointer), 'symlink');
    assert.equal(readlinkSync(pointer), join('..', '..', '..', 'blobs', 'one'));
    assert.equal(await linkSnapshot(join(blobs, 'two'), pointer), 'symlink');
    assert.equal(readFileSync(pointer, 'utf8'), 'second');

    const refuse = async (): Promise<void> => {
      throw Object.assign(new Error('symlinks not permitted'), { code: 'EPERM' });
    };
    const copied = join(dir, 'snapshots', COMMIT, 'copied.bin');
    assert.equal(await linkSnapshot(join(blobs, 'one'), copied, refuse), 'copy');
    assert.equal(lstatSync(copied).isSymbolicLink(), false);
    assert.equal(readFileSync(copied, 'utf8'), 'first');
  });
});
