import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCoverage } from '../../src/engine/merge.ts';
import { parseShard, runInputs, selectShard, shardRange } from '../../src/engine/shard.ts';

test('parseShard accepts I/N with 1 ≤ I ≤ N and refuses the rest', () => {
  assert.deepEqual(parseShard('3/8'), { index: 3, count: 8 });
  assert.deepEqual(parseShard(' 1 / 1 '), { index: 1, count: 1 });
  for (const bad of ['0/4', '5/4', '1/0', '2', 'a/b', '-1/3', '1.5/3']) assert.throws(() => parseShard(bad), /--shard/, bad);
});

test('the run list is sorted by code unit and de-duplicated, whatever the order and spelling of the paths', () => {
  assert.deepEqual(runInputs(['b/2.png', 'a/10.png', './a/10.png', 'a/9.png', 'B/1.png', 'a//9.png']), ['B/1.png', 'a/10.png', 'a/9.png', 'b/2.png']);
});

test('shards are disjoint, contiguous, balanced, and their union in index order is the whole sorted list', () => {
  for (const n of [0, 1, 5, 7, 100]) {
    const files = Array.from({ length: n }, (_, i) => `img/${String((i * 37) % 101).padStart(3, '0')}.png`).reverse();
    const all = runInputs(files);
    for (const count of [1, 2, 3, 8]) {
      const parts = Array.from({ length: count }, (_, i) => selectShard(files, { index: i + 1, count }));
      assert.deepEqual(
        parts.flatMap((p) => p.files),
        all,
      );
      const sizes = parts.map((p) => p.files.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
      assert.equal(new Set(parts.map((p) => p.digest)).size, 1);
      assert.ok(parts.every((p) => p.total === all.length));
    }
  }
  assert.deepEqual(shardRange(10, { index: 1, count: 3 }), [0, 3]);
  assert.deepEqual(shardRange(10, { index: 3, count: 3 }), [6, 10]);
});

test('a volume is one file: all its slices stay in one shard', () => {
  const files = ['ct/a.nii.gz', 'ct/b.nii.gz', 'ct/c.dcm'];
  const parts = [1, 2].map((index) => selectShard(files, { index, count: 2 }).files);
  assert.deepEqual(parts, [['ct/a.nii.gz'], ['ct/b.nii.gz', 'ct/c.dcm']]);
});

test('coverage: missing, repeated and foreign shards are refused with their names', () => {
  const files = ['a.png', 'b.png', 'c.png', 'd.png'];
  const shard = (index: number, count = 3, list = files) => ({ dir: `s${index}of${count}`, manifest: selectShard(list, { index, count }) });
  assert.equal(checkCoverage([shard(3), shard(1), shard(2)], 'result').length, 3);
  assert.throws(() => checkCoverage([shard(1), shard(3)], 'result'), /missing result shard 2\/3/);
  assert.throws(() => checkCoverage([shard(1), shard(2), shard(2), shard(3)], 'result'), /overlapping shards: s2of3 and s2of3 are both result shard 2\/3/);
  assert.throws(() => checkCoverage([shard(1), shard(2, 2)], 'result'), /another input list/);
  assert.throws(() => checkCoverage([shard(1), shard(2, 3, [...files, 'e.png'])], 'result'), /another input list/);
});
