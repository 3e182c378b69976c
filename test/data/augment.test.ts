// Parity of the x11 few-shot augmentation with torch (affine_grid/grid_sample with reflection, flips). The torch
// outputs are committed in fixtures/data/augment (scripts/fixtures/data_augment_ref.py builds the same inputs from the
// same seeds and records their SHA-256, checked here before any comparison).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { AUGMENT_COUNT, AUGMENT_OPS, affineGridSample, augment11, binarizeMask, hflip, translationTheta, vflip, type Shape3 } from '../../src/data/augment.ts';
import { fixture } from '../support/fixtures.ts';

/** Small LCG (Numerical Recipes constants) for test inputs only. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function randomImage(shape: Shape3, seed: number): Float32Array {
  const r = lcg(seed);
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < out.length; i++) out[i] = r();
  return out;
}

/** A binary mask [1,H,W] with a few filled discs and rectangles, some touching the border. */
function blobMask(h: number, w: number, seed: number): Float32Array {
  const r = lcg(seed);
  const m = new Float32Array(h * w);
  for (let k = 0; k < 5; k++) {
    const cy = r() * h;
    const cx = r() * w;
    const rad = 5 + r() * h * 0.2;
    const rect = k % 2 === 1;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const inside = rect ? Math.abs(i - cy) < rad && Math.abs(j - cx) < rad * 0.6 : (i - cy) ** 2 + (j - cx) ** 2 < rad * rad;
        if (inside) m[i * w + j] = 1;
      }
    }
  }
  return m;
}

interface Case {
  readonly name: string;
  readonly data: Float32Array;
  readonly shape: Shape3;
}

interface RefCase {
  name: string;
  kind: 'image' | 'mask';
  shape: Shape3;
  seed: number;
  input_sha256: string;
  output: string;
}

const CASES: readonly Case[] = [
  { name: 'mask [1,240,240]', data: blobMask(240, 240, 11), shape: [1, 240, 240] },
  { name: 'image [3,32,40]', data: randomImage([3, 32, 40], 7), shape: [3, 32, 40] },
  { name: 'image [2,37,53]', data: randomImage([2, 37, 53], 3), shape: [2, 37, 53] },
];

const sha256 = (a: Float32Array): string =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

/** torch's [11*C*H*W] outputs per case, after checking that the reference was computed on these very inputs. */
function refs(): Float32Array[] {
  const manifest = JSON.parse(readFileSync(fixture('data', 'augment', 'cases.json'), 'utf8')) as RefCase[];
  assert.deepEqual(
    manifest.map((m) => [m.name, m.shape]),
    CASES.map((c) => [c.name, c.shape]),
    'fixture cases',
  );
  return CASES.map((c, i) => {
    assert.equal(sha256(c.data), manifest[i].input_sha256, `${c.name}: the reference was computed on different inputs`);
    const buf = inflateSync(readFileSync(fixture('data', 'augment', manifest[i].output)));
    return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  });
}

test('augment11 matches torch affine_grid/grid_sample(reflection) for all 11 outputs', () => {
  const report: string[] = [];
  const all = refs();
  CASES.forEach((c, ci) => {
    const ref = all[ci];
    const outs = augment11(c.data, c.shape);
    assert.equal(outs.length, AUGMENT_COUNT);
    const n = c.data.length;
    assert.equal(ref.length, AUGMENT_COUNT * n, `${c.name}: reference size`);
    const errs: string[] = [];
    outs.forEach((o, k) => {
      assert.equal(o.length, n);
      let maxErr = 0;
      for (let i = 0; i < n; i++) maxErr = Math.max(maxErr, Math.abs(o[i] - ref[k * n + i]));
      errs.push(maxErr.toExponential(1));
      assert.ok(maxErr <= 1e-5, `${c.name} ${AUGMENT_OPS[k].name}: max |err| ${maxErr} > 1e-5`);
    });
    report.push(`${c.name}: ${errs.join(' ')}`);
  });
  // Visible in the test log: per-output max abs errors.
  console.log(report.join('\n'));
});

test('augmented binary mask thresholded at 0.5 matches torch thresholded', () => {
  const c = CASES[0];
  const ref = refs()[0];
  const n = c.data.length;
  augment11(c.data, c.shape).forEach((o, k) => {
    const mine = binarizeMask(o);
    let diff = 0;
    let ones = 0;
    for (let i = 0; i < n; i++) {
      const r = ref[k * n + i] > 0.5 ? 1 : 0;
      ones += r;
      if (mine[i] !== r) diff++;
    }
    assert.ok(ones > 1000 && ones < n - 1000, `${AUGMENT_OPS[k].name}: degenerate mask (${ones} ones)`);
    assert.equal(diff, 0, `${AUGMENT_OPS[k].name}: ${diff} pixels differ after thresholding`);
  });
});

test('op order and names', () => {
  assert.deepEqual(
    AUGMENT_OPS.map((o) => o.kind),
    ['identity', 'affine', 'affine', 'affine', 'affine', 'affine', 'affine', 'affine', 'affine', 'hflip', 'vflip'],
  );
  const t = AUGMENT_OPS.slice(5, 9).map((o) => (o.kind === 'affine' ? [o.theta[2], o.theta[5]] : []));
  const f = Math.fround;
  assert.deepEqual(t, [
    [f(0.1), f(0.1)],
    [f(-0.1), f(0.1)],
    [f(-0.1), f(-0.1)],
    [f(0.1), f(-0.1)],
  ]);
});

test('flips reverse columns / rows', () => {
  const shape: Shape3 = [2, 2, 3];
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(Array.from(hflip(x, shape)), [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
  assert.deepEqual(Array.from(vflip(x, shape)), [4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9]);
});

test('translation (0.1, 0) moves content 12 px left at width 240, reflecting at the right edge', () => {
  const h = 4;
  const w = 240;
  const x = new Float32Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) x[i * w + j] = j; // value = column index
  const y = affineGridSample(x, [1, h, w], translationTheta(0.1, 0));
  // Output column j reads input column j + 12 (exactly representable offsets are not needed:
  // the column ramp is linear, so bilinear sampling returns the source coordinate).
  for (let j = 0; j < 200; j++) assert.ok(Math.abs(y[w + j] - (j + 12)) < 1e-3, `col ${j}: ${y[w + j]}`);
  // Past the right edge the source coordinate j + 12 reflects about 239.5: column 239 reads 228.
  assert.ok(Math.abs(y[w + 239] - 228) < 1e-3, `col 239: ${y[w + 239]}`);
});

test('identity output is a copy; shape mismatch throws', () => {
  const x = randomImage([1, 4, 4], 1);
  const [orig] = augment11(x, [1, 4, 4]);
  assert.notEqual(orig, x);
  assert.deepEqual(orig, x);
  assert.throws(() => augment11(x, [1, 4, 5]), RangeError);
  assert.throws(() => augment11(x, [0, 4, 4]), RangeError);
});

test('binarizeMask: strictly greater than the threshold', () => {
  assert.deepEqual(Array.from(binarizeMask(Float32Array.from([0, 0.5, 0.5001, 1, 0.2]))), [0, 0, 1, 1, 0]);
});
