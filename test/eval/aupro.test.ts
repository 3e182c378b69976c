import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { aupro, labelComponents8 } from '../../src/eval/index.ts';
import { radixSortPairs } from '../../src/eval/radix-sort.ts';
import { assertSameInput, evalReference, evalReferenceBytes, prng, viewAs } from './reference.ts';

interface AuproCase {
  name: string;
  width: number;
  height: number;
  maps: Float32Array[];
  masks: Uint8Array[];
  limit: number;
}

interface AuproResult {
  aupro: number;
  aupro_thresholds: number | null;
  aupro_mvtec_float32_fpr: number;
  regions: number;
  maps_sha256: string;
  masks_sha256: string;
  components: string;
}

/** Masks with discs, rectangles, a diagonal-only chain and an empty map; ties optional in scores. */
function syntheticCase(name: string, seed: number, count: number, width: number, height: number, levels: number, limit: number): AuproCase {
  const rand = prng(seed);
  const maps: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const mask = new Uint8Array(width * height);
    const blobs = k === 0 ? 0 : 1 + Math.floor(rand() * 3);
    for (let b = 0; b < blobs; b++) {
      const cx = rand() * width;
      const cy = rand() * height;
      const r = 1 + rand() * Math.min(width, height) * 0.15;
      const disc = rand() < 0.5;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const inside = disc ? (x - cx) ** 2 + (y - cy) ** 2 <= r * r : Math.abs(x - cx) <= r && Math.abs(y - cy) <= r / 2;
          if (inside) mask[y * width + x] = 255;
        }
      }
    }
    if (k === 1) {
      // A diagonal staircase: one region with 8-connectivity, five with 4-connectivity.
      for (let d = 0; d < 5; d++) mask[(height - 1 - d) * width + d] = 1;
    }
    const map = new Float32Array(width * height);
    for (let i = 0; i < map.length; i++) {
      const v = 0.6 * rand() + (mask[i] ? 0.35 * rand() + 0.1 : 0);
      map[i] = levels > 0 ? Math.round(v * levels) / levels : v;
    }
    maps.push(map);
    masks.push(mask);
  }
  return { name, width, height, maps, masks, limit };
}

/** One 50 × 25 map with 250 anomalous pixels (1000 normal) and distinct scores: FPR hits 0.3. */
function exactLimitCase(): AuproCase {
  const rand = prng(99);
  const width = 50;
  const height = 25;
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 20; x < 30; x++) mask[y * width + x] = 1;
  const map = new Float32Array(width * height);
  for (let i = 0; i < map.length; i++) map[i] = rand() + (mask[i] ? 0.3 : 0);
  return { name: 'exact_limit_point', width, height, maps: [map], masks: [mask], limit: 0.3 };
}

const cases: AuproCase[] = [
  syntheticCase('quantized', 1, 6, 40, 32, 16, 0.3),
  syntheticCase('continuous', 2, 6, 40, 32, 0, 0.3),
  syntheticCase('limit_1', 3, 5, 24, 30, 0, 1),
  syntheticCase('limit_0.05_ties', 4, 6, 40, 32, 8, 0.05),
  syntheticCase('larger_maps', 5, 4, 128, 96, 0, 0.3),
  exactLimitCase(),
];
let results: Record<string, AuproResult> = {};

function concat<T extends Float32Array | Uint8Array>(parts: T[], out: T): T {
  parts.forEach((p, k) => out.set(p, k * p.length));
  return out;
}

before(() => {
  results = evalReference('aupro.json');
  for (const c of cases) {
    assertSameInput(concat(c.maps, new Float32Array(c.maps.length * c.width * c.height)), results[c.name]?.maps_sha256, `${c.name} maps`);
    assertSameInput(concat(c.masks, new Uint8Array(c.masks.length * c.width * c.height)), results[c.name]?.masks_sha256, `${c.name} masks`);
  }
});

test('aupro matches the Python reference of the MVTec definition to 1e-9', (t) => {
  let worst = 0;
  let worstMvtec = 0;
  for (const c of cases) {
    const expected = results[c.name];
    const got = aupro(c.maps, c.masks, c.width, c.height, c.limit);
    const err = Math.abs(got - expected.aupro);
    worst = Math.max(worst, err);
    worstMvtec = Math.max(worstMvtec, Math.abs(got - expected.aupro_mvtec_float32_fpr));
    assert.ok(err <= 1e-9, `${c.name}: got ${got}, reference ${expected.aupro}`);
    if (expected.aupro_thresholds !== null) assert.ok(Math.abs(got - expected.aupro_thresholds) <= 1e-9, c.name);
  }
  assert.ok(cases.filter((c) => results[c.name].aupro_thresholds !== null).length >= 4);
  t.diagnostic(`max |aupro - reference| = ${worst.toExponential(2)}; vs float32-FPR variant ${worstMvtec.toExponential(2)}`);
});

test('the default limit is 0.3', () => {
  const c = cases[0];
  assert.equal(aupro(c.maps, c.masks, c.width, c.height), aupro(c.maps, c.masks, c.width, c.height, 0.3));
});

test('connected components equal scipy.ndimage.label with a 3x3 structure', () => {
  for (const c of cases) {
    const expected = viewAs(evalReferenceBytes(results[c.name].components), Int32Array);
    assert.equal(expected.length, c.masks.length * c.width * c.height, `${c.name}: component labels length`);
    const pixels = c.width * c.height;
    let regions = 0;
    c.masks.forEach((mask, k) => {
      const { labels, count, sizes } = labelComponents8(mask, c.width, c.height);
      assert.deepEqual(labels, expected.subarray(k * pixels, (k + 1) * pixels), `${c.name} mask ${k}`);
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        pixels,
      );
      regions += count;
    });
    assert.equal(regions, results[c.name].regions, c.name);
  }
});

test('diagonal neighbours join a component (8-connectivity)', () => {
  const mask = new Uint8Array([1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1]);
  const { labels, count, sizes } = labelComponents8(mask, 4, 4);
  assert.equal(count, 4);
  assert.deepEqual([...labels], [1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0, 3, 3, 0, 4]);
  assert.deepEqual([...sizes], [9, 2, 2, 2, 1]);
});

test('radix sort orders keys stably with their payload', () => {
  const rand = prng(7);
  const n = 50_000;
  const keys = new Uint32Array(n);
  const values = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = rand() < 0.5 ? Math.floor(rand() * 2 ** 32) : Math.floor(rand() * 8) * 0x01001001;
    values[i] = i;
  }
  const expected = [...values].sort((a, b) => keys[a] - keys[b] || a - b);
  const sorted = radixSortPairs(keys.slice(), values.slice());
  assert.deepEqual([...sorted.values], expected);
  assert.deepEqual(
    [...sorted.keys],
    expected.map((i) => keys[i]),
  );
});

test('aupro errors', () => {
  const map = new Float32Array(4);
  assert.throws(() => aupro([map], [new Uint8Array(4)], 2, 2), /without anomalous regions/);
  assert.throws(() => aupro([map], [new Uint8Array(4).fill(1)], 2, 2), /without normal pixels/);
  assert.throws(() => aupro([map], [], 2, 2), /1 maps but 0 masks/);
  assert.throws(() => aupro([map], [new Uint8Array(3)], 2, 2), /mask has 3 pixels/);
  assert.throws(() => aupro([new Float32Array(3)], [new Uint8Array(4)], 2, 2), /map 0 has 3 pixels/);
  const withNaN = new Float32Array([0, NaN, 0, 0]);
  assert.throws(() => aupro([withNaN], [new Uint8Array([1, 0, 0, 0])], 2, 2), /map 0: .*NaN at index 1/);
  assert.throws(() => aupro([map], [new Uint8Array([1, 0, 0, 0])], 2, 2, 0), /fprLimit/);
  assert.throws(() => aupro([map], [new Uint8Array([1, 0, 0, 0])], 2, 2, 1.5), /fprLimit/);
});
