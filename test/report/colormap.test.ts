import { test } from 'node:test';
import assert from 'node:assert/strict';

import { colorize, colormapLut, autoRange, COLORMAP_NAMES, type ColormapName } from '../../src/report/colormap.ts';
import { reportRef, rng, sha256 } from './pyref.ts';

function trickyValues(vmin: number, vmax: number, seed: number): number[] {
  const span = vmax - vmin;
  const vals: number[] = [vmin, vmax, vmin - 1, vmax + 1, vmin - 1e-7, vmax + 1e-7, (vmin + vmax) / 2, -1e30, 1e30, 0];
  // bin edges of the 256-entry table and their float32 neighbours
  for (let k = 0; k <= 256; k += 3) {
    const e = vmin + (span * k) / 256;
    vals.push(e, Math.fround(e), e * (1 + 1e-7), e * (1 - 1e-7));
  }
  const r = rng(seed);
  for (let i = 0; i < 300; i++) vals.push(vmin - 0.1 * span + 1.2 * span * r());
  return vals;
}

test('colour tables equal matplotlib cmap(np.arange(256), bytes=True)', () => {
  const ref = reportRef();
  assert.deepEqual(Object.keys(ref.lut).sort(), [...COLORMAP_NAMES].sort());
  for (const cmap of COLORMAP_NAMES) {
    const want = ref.lut[cmap];
    assert.equal(want.length, 256 * 3);
    assert.deepEqual(Array.from(colormapLut(cmap)), want, `${cmap} table`);
  }
});

test('colorize equals matplotlib cmap(Normalize(vmin, vmax)(x), bytes=True) for float32 and float64 maps', () => {
  const cases: { cmap: ColormapName; dtype: 'float32' | 'float64'; vmin: number | null; vmax: number | null; seed: number }[] = [];
  for (const cmap of COLORMAP_NAMES) {
    cases.push({ cmap, dtype: 'float32', vmin: -0.3, vmax: 1.7, seed: 1 });
    cases.push({ cmap, dtype: 'float64', vmin: -0.3, vmax: 1.7, seed: 2 });
    cases.push({ cmap, dtype: 'float32', vmin: 0, vmax: 1, seed: 3 });
    cases.push({ cmap, dtype: 'float32', vmin: null, vmax: null, seed: 4 });
    cases.push({ cmap, dtype: 'float32', vmin: 0.25, vmax: 0.25, seed: 5 });
  }
  const inputs = cases.map((c) => {
    let vals = trickyValues(c.vmin ?? 0.1, c.vmax ?? 0.9, c.seed);
    if (c.vmin === null) vals = vals.filter((v) => Math.abs(v) < 10); // autoscale over the data itself
    const arr = c.dtype === 'float32' ? new Float32Array(vals) : new Float64Array(vals);
    return arr;
  });
  const refs = reportRef().colorize;
  assert.deepEqual(
    refs.map((r) => [r.cmap, r.dtype, r.vmin, r.vmax, r.seed]),
    cases.map((c) => [c.cmap, c.dtype, c.vmin, c.vmax, c.seed]),
    'reference cases',
  );
  cases.forEach((c, i) => {
    const what = `${c.cmap} ${c.dtype} [${c.vmin}, ${c.vmax}]`;
    assert.equal(sha256(Float64Array.from(inputs[i])), refs[i].input_sha256, `${what}: the reference was computed on different inputs`);
    const range = c.vmin === null || c.vmax === null ? 'auto' : { min: c.vmin, max: c.vmax };
    const got = colorize(inputs[i], inputs[i].length, 1, range, c.cmap);
    const want = [...Buffer.from(refs[i].rgb_b64, 'base64')];
    assert.equal(want.length, refs[i].n * 3, `${what}: reference length`);
    assert.equal(got.length, want.length, `${what}: length`);
    assert.deepEqual(Array.from(got), want, what);
  });
});

test("NaN takes matplotlib's bad colour (black, transparent there); auto range ignores NaN", () => {
  const map = new Float32Array([NaN, 0, 1, NaN]);
  assert.deepEqual(autoRange(map), { min: 0, max: 1 });
  const want = reportRef().colorize_nan;
  assert.equal(want.length, 12);
  assert.deepEqual(Array.from(colorize(map, 2, 2, { min: 0, max: 1 }, 'jet')), want);
  assert.throws(() => colorize(new Float32Array([NaN]), 1, 1, 'auto'), /no non-NaN value/);
});

test('published end points of jet, viridis and turbo', () => {
  const ends = (cmap: ColormapName): number[] => Array.from(colorize(new Float32Array([0, 1]), 2, 1, { min: 0, max: 1 }, cmap));
  // jet: blue 0.5 at 0, red 0.5 at 1 (0.5 * 255 = 127.5, truncated)
  assert.deepEqual(ends('jet'), [0, 0, 127, 127, 0, 0]);
  // viridis: #440154 .. #fde725
  assert.deepEqual(ends('viridis'), [0x44, 0x01, 0x54, 0xfd, 0xe7, 0x24]);
  // turbo: (0.18995, 0.07176, 0.23217) .. (0.47960, 0.01583, 0.01055)
  assert.deepEqual(ends('turbo'), [48, 18, 59, 122, 4, 2]);
  // jet mid-range is green-dominated, low is blue, high is red
  const mid = colorize(new Float32Array([0.1, 0.5, 0.9]), 3, 1, { min: 0, max: 1 }, 'jet');
  assert.ok(mid[2] > 200 && mid[0] === 0, 'jet(0.1) is blue');
  assert.ok(mid[4] === 255, 'jet(0.5) has full green');
  assert.ok(mid[6] > 200 && mid[8] === 0, 'jet(0.9) is red');
});

test('colorize validates its arguments', () => {
  assert.throws(() => colorize(new Float32Array(5), 2, 2, 'auto'), /expected 2x2/);
  assert.throws(() => colorize(new Float32Array(4), 2, 2, { min: 1, max: 0 }), /greater than max/);
  assert.throws(() => colorize(new Float32Array(4), 2, 2, { min: 0, max: Infinity }), /finite/);
  assert.throws(() => colorize(new Float32Array(4), 2, 2, 'auto', 'hot' as ColormapName), /unknown colour map/);
});
