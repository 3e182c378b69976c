// The text tower is dropped once text features are known and read again from the checkpoint when needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip } from '../../src/clip/factory.ts';
import { ClipModel } from '../../src/clip/model.ts';
import { normalizeStateDict } from '../../src/clip/state-dict.ts';
import { cachedTextFeatures } from '../../src/clip/text-features.ts';
import { ClipTokenizer } from '../../src/clip/tokenizer.ts';
import { tinyClipTensors, writeTinyClip } from '../support/tiny-clip.ts';

test('releaseTextTower drops the text weights; the next encoding reads them again and gives the same numbers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mvfa-text-tower-'));
  try {
    const clip = await loadClip(await writeTinyClip(dir));
    const ids = ClipTokenizer.load().tokenize(['a photo of a normal brain', 'a damaged liver'], 77);
    const before = await clip.encodeTokens(ids, 2);
    const visionKeys = [...clip.weights.keys()].filter((k) => k.startsWith('visual.'));
    assert.equal(await clip.releaseTextTower(), true);
    assert.equal(clip.textTowerLoaded, false);
    assert.deepEqual(
      [...clip.weights.keys()].filter((k) => !k.startsWith('visual.') && k !== 'logit_scale'),
      [],
      'no text tensor is left in memory',
    );
    assert.deepEqual(
      [...clip.weights.keys()].filter((k) => k.startsWith('visual.')),
      visionKeys,
      'the vision tower is kept',
    );
    const after = await clip.encodeTokens(ids, 2);
    assert.equal(clip.textTowerLoaded, true);
    assert.deepEqual(after, before);

    // cachedTextFeatures leaves the text tower dropped, computing or reading the cache alike.
    const cache = join(dir, 'cache');
    const f1 = await cachedTextFeatures(clip, clip.source, 'Brain', cache);
    assert.equal(clip.textTowerLoaded, false);
    const f2 = await cachedTextFeatures(clip, clip.source, 'Brain', cache);
    assert.deepEqual(f2, f1);
    await clip.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a model built from weights in memory keeps its text tower (it could not be read again)', async () => {
  const clip = new ClipModel(normalizeStateDict(tinyClipTensors(), 'tiny'), 'tiny (in memory)');
  assert.equal(await clip.releaseTextTower(), false);
  assert.equal(clip.textTowerLoaded, true);
});
