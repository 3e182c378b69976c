import { before, test } from 'node:test';
import assert from 'node:assert/strict';
// The min–max rule lives in the fusion module (src/mvfa/fusion.ts), used by predict, the page and the benchmark.
import { rangeOf as minMax, normalizeInPlace } from '../../src/mvfa/fusion.ts';
import { assertSameInput, evalReference, prng, sha256 } from './reference.ts';

interface Case {
  name: string;
  maps: (Float32Array | Float64Array)[];
}

function makeMaps(Ctor: typeof Float32Array | typeof Float64Array, seed: number, count: number, size: number, scale: number): Case['maps'] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => {
    const a = new Ctor(size);
    for (let i = 0; i < size; i++) {
      // x^8 by repeated squaring (correctly rounded products, unlike pow): numpy rebuilds the same inputs
      const shifted = (rand() - 0.3) * scale;
      const p = rand();
      const p2 = p * p;
      const p4 = p2 * p2;
      a[i] = shifted + 4 * (p4 * p4);
    }
    return a;
  });
}

const cases: Case[] = [
  { name: 'f32_maps', maps: makeMaps(Float32Array, 1, 7, 5000, 3.7) },
  { name: 'f32_image_scores', maps: [makeMaps(Float32Array, 2, 1, 500, 0.013)[0]] },
  { name: 'f64_maps', maps: makeMaps(Float64Array, 3, 5, 3000, 123.4) },
];
let results: Record<string, { min: number; max: number; input_sha256: string; output_sha256: string }> = {};

function concat(maps: Case['maps']): Float32Array | Float64Array {
  const total = maps.reduce((n, m) => n + m.length, 0);
  const out = maps[0] instanceof Float32Array ? new Float32Array(total) : new Float64Array(total);
  let at = 0;
  for (const m of maps) {
    out.set(m, at);
    at += m.length;
  }
  return out;
}

before(() => {
  results = evalReference('minmax.json');
  for (const c of cases) assertSameInput(concat(c.maps), results[c.name]?.input_sha256, c.name);
});

test('minMax and normalizeInPlace are bit-identical to numpy over a whole test set', () => {
  for (const c of cases) {
    const { min, max } = minMax(c.maps);
    assert.equal(min, results[c.name].min, c.name);
    assert.equal(max, results[c.name].max, c.name);
    const maps = c.maps.map((m) => m.slice());
    for (const m of maps) normalizeInPlace(m, min, max);
    const got = concat(maps);
    assert.equal(got.length, concat(c.maps).length, c.name);
    assert.equal(sha256(got), results[c.name].output_sha256, `${c.name}: normalised bytes differ from numpy's`);
  }
});

test('constant scores normalise to 0, not NaN', () => {
  const a = new Float32Array([2.5, 2.5, 2.5]);
  const { min, max } = minMax([a, new Float32Array([2.5])]);
  assert.deepEqual([...normalizeInPlace(a, min, max)], [0, 0, 0]);
  assert.deepEqual([...normalizeInPlace(new Float64Array([1, 1]), 1, 1)], [0, 0]);
});

test('normalizeInPlace returns its argument and maps min to 0 and max to 1', () => {
  const a = new Float64Array([3, -1, 1]);
  assert.equal(normalizeInPlace(a, -1, 3), a);
  assert.deepEqual([...a], [1, 0, 0.5]);
});

test('minMax errors: no values, NaN, infinity', () => {
  assert.throws(() => minMax([]), /at least one value/);
  assert.throws(() => minMax([new Float32Array(0)]), /at least one value/);
  assert.throws(() => minMax([new Float32Array(2), new Float32Array([1, NaN])]), /array 1: .*NaN at index 1/);
  assert.throws(() => minMax([new Float64Array([-Infinity])]), /array 0: .*-Infinity at index 0/);
  assert.throws(() => normalizeInPlace(new Float32Array(1), NaN, 1), /NaN/);
});
