// Resampling parity: Pillow (bit-exact, 8-bit) and PyTorch (float32) references committed in fixtures/images
// (scripts/fixtures/image_cases.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { loadImageRgb8 } from '../../../src/io/image/image.ts';
import {
  bilinearAlignCornersMatrix,
  resizeAntialiasFloat32,
  resizeBilinearAlignCornersFloat32,
  resizeUint8,
  torchAntialiasWeights,
  type PillowResample,
  type RasterU8,
} from '../../../src/io/image/resample.ts';
import {
  BUSI_A,
  BUSI_B,
  BUSI_C,
  assertSameBytes,
  caseF32,
  countDiff,
  imageCase,
  images,
  maxAbsDiff,
  referenceVersions,
  sha256,
  uniformF32,
} from './image-pyref.ts';

const FILTERS: PillowResample[] = ['bicubic', 'bilinear', 'nearest', 'lanczos', 'box', 'hamming'];

interface Source {
  label: string;
  src: string;
  mode: 'L' | 'RGB';
}

const SOURCES: Source[] = [
  { label: 'BUSI 320x310 grey', src: BUSI_A, mode: 'L' },
  { label: 'BUSI 320x240 grey', src: BUSI_B, mode: 'L' },
  { label: 'BUSI 211x320 grey as RGB', src: BUSI_C, mode: 'RGB' },
  { label: 'real RGB 320x239', src: images('rgb_real.png'), mode: 'RGB' },
  { label: 'real RGB 320x239 as L', src: images('rgb_real.png'), mode: 'L' },
  { label: 'synthetic 320x215 RGB', src: images('png', 'rgb320x215.png'), mode: 'RGB' },
  { label: 'synthetic 100x60 L', src: images('png', 'grey100x60.png'), mode: 'L' },
  { label: 'synthetic 240x240 RGB', src: images('png', 'rgb240.png'), mode: 'RGB' },
];

/** Image.open(src).convert(mode) as a raster: RGB via loadImageRgb8 (PIL-exact); L with Pillow's ITU-R 601-2 luma in 16-bit fixed point. */
async function sourceRaster(s: Source): Promise<RasterU8> {
  const rgb = await loadImageRgb8(s.src);
  if (s.mode === 'RGB') return rgb;
  const n = rgb.width * rgb.height;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (rgb.data[3 * i] * 19595 + rgb.data[3 * i + 1] * 38470 + rgb.data[3 * i + 2] * 7471 + 0x8000) >>> 16;
  return { width: rgb.width, height: rgb.height, channels: 1, data };
}

const SIZES: [number, number][] = [
  [240, 240],
  [100, 57],
  [400, 333],
  [240, 180],
  [240, 320],
];

test('Pillow 8-bit resize is bit-exact (grey and RGB, all filters, down/up/non-square)', async (t) => {
  const rasters: RasterU8[] = [];
  for (const s of SOURCES) {
    const r = await sourceRaster(s);
    // the input is Pillow's own convert(mode) of the file
    assert.deepEqual([r.width, r.height], imageCase(`source ${s.label}`).size, s.label);
    assertSameBytes(r.data, `source ${s.label}`, `${s.label}: source raster`);
    rasters.push(r);
  }
  const cases: { source: number; filter: PillowResample; w: number; h: number; box?: [number, number, number, number] }[] = [];
  SOURCES.forEach((_, i) => {
    for (const filter of FILTERS) for (const [w, h] of SIZES) cases.push({ source: i, filter, w, h });
  });
  // source boxes (Image.resize(size, resample, box)), fractional and integral
  for (const filter of ['bicubic', 'nearest', 'lanczos'] as const) {
    const boxes: [[number, number, number, number], number, number][] = [
      [[10.5, 3.25, 200, 150], 240, 240],
      [[0, 0, 100, 60], 100, 60], // integral box of the output size: Pillow crops
      [[20, 10, 260, 200], 120, 90],
    ];
    for (const [box, w, h] of boxes) cases.push({ source: 5, filter, w, h, box });
  }
  for (const c of cases) {
    const got = resizeUint8(rasters[c.source], c.w, c.h, c.filter, c.box);
    const key = `resize ${SOURCES[c.source].label} ${c.w}x${c.h} ${c.filter}${c.box ? ` box ${c.box.join(',')}` : ''}`;
    assert.equal(got.data.length, c.w * c.h * rasters[c.source].channels, key);
    assertSameBytes(got.data, key);
  }
  t.diagnostic(`Pillow ${referenceVersions().pil}: ${cases.length} resize cases bit-exact`);
});

test('240x240 -> 240x240 is an identity copy (as Pillow)', () => {
  const data = new Uint8Array(240 * 240 * 3).map((_, i) => (i * 7919) & 255);
  const src: RasterU8 = { width: 240, height: 240, channels: 3, data };
  for (const f of FILTERS) {
    const out = resizeUint8(src, 240, 240, f);
    assert.deepEqual(out.data, data);
    assert.notEqual(out.data, data, 'a copy, not the same buffer');
  }
});

interface AaCase {
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  mode: 'bicubic' | 'bilinear';
  channelsLast?: boolean;
}

const AA_CASES: AaCase[] = [
  // CLIP ViT-L/14 pos-embed 336->240 px grid (64 of its 1024 channels: each channel is interpolated alike)
  { c: 64, h: 24, w: 24, oh: 17, ow: 17, mode: 'bicubic' },
  { c: 64, h: 24, w: 24, oh: 17, ow: 17, mode: 'bicubic', channelsLast: true }, // as open_clip lays it out
  { c: 3, h: 7, w: 7, oh: 10, ow: 10, mode: 'bicubic' }, // upsampling
  { c: 5, h: 31, w: 23, oh: 12, ow: 40, mode: 'bicubic' }, // down one axis, up the other
  { c: 8, h: 64, w: 64, oh: 7, ow: 9, mode: 'bicubic' }, // many taps per output
  { c: 4, h: 16, w: 16, oh: 16, ow: 11, mode: 'bicubic' }, // one axis unchanged
  { c: 5, h: 31, w: 23, oh: 12, ow: 9, mode: 'bilinear' },
  { c: 8, h: 100, w: 90, oh: 30, ow: 11, mode: 'bilinear' },
];

test('torch antialiased interpolate parity (bicubic/bilinear, float32)', (t) => {
  AA_CASES.forEach((c, i) => {
    const x = uniformF32(c.c * c.h * c.w, 100 + i);
    const label = `${c.mode} [${c.c},${c.h},${c.w}]->[${c.oh},${c.ow}]${c.channelsLast ? ' channels-last' : ''}`;
    assert.equal(sha256(x), imageCase(`aa ${i}`).input_sha256, `${label}: the reference was computed on different inputs`);
    const ref = caseF32(`aa ${i}`);
    assert.equal(ref.length, c.c * c.oh * c.ow, `${label}: reference length`);
    const got = resizeAntialiasFloat32(x, c.c, c.h, c.w, c.oh, c.ow, c.mode);
    const err = maxAbsDiff(got, ref);
    t.diagnostic(`torch ${referenceVersions().torch} ${label}: max abs err ${err}, ${countDiff(got, ref)}/${ref.length} values differ`);
    assert.ok(err <= 1e-6, `${label}: max abs err ${err}`);
  });
});

test('torch antialias weights match torch (one-hot probe)', (t) => {
  const pairs: [number, number, 'bicubic' | 'bilinear'][] = [
    [24, 17, 'bicubic'],
    [7, 10, 'bicubic'],
    [64, 9, 'bicubic'],
    [31, 12, 'bilinear'],
  ];
  for (const [nIn, nOut, mode] of pairs) {
    const ref = caseF32(`aa_weights ${mode} ${nIn}->${nOut}`);
    const w = torchAntialiasWeights(nIn, nOut, mode);
    const m = new Float32Array(nOut * nIn);
    for (let o = 0; o < nOut; o++) for (let j = 0; j < w.size[o]; j++) m[o * nIn + w.min[o] + j] = w.weights[o * w.ksize + j];
    const err = maxAbsDiff(m, ref);
    t.diagnostic(`${mode} ${nIn}->${nOut}: weight max abs err ${err}`);
    assert.ok(err <= 1e-7, `${mode} ${nIn}->${nOut}: ${err}`);
  }
});

test('bilinear align_corners=True matrix and separable application match torch', (t) => {
  for (const [nIn, nOut] of [
    [17, 240],
    [5, 3],
  ] as const) {
    const err = maxAbsDiff(bilinearAlignCornersMatrix(nIn, nOut), caseF32(`align_matrix ${nIn}->${nOut}`));
    t.diagnostic(`matrix ${nIn}->${nOut}: max abs err ${err}`);
    assert.ok(err <= 1e-7, `matrix ${nIn}->${nOut}: ${err}`);
  }
  for (const [tag, c, h, w, oh, ow, seed] of [
    ['a', 1, 17, 17, 240, 240, 5],
    ['b', 3, 9, 13, 20, 7, 6],
  ] as const) {
    const x = uniformF32(c * h * w, seed);
    assert.equal(sha256(x), imageCase(`align ${tag}`).input_sha256, `${tag}: the reference was computed on different inputs`);
    const got = resizeBilinearAlignCornersFloat32(x, c, h, w, oh, ow);
    const ref = caseF32(`align ${tag}`);
    const err = maxAbsDiff(got, ref);
    t.diagnostic(`bilinear align_corners [${c},${h},${w}]->[${oh},${ow}]: max abs err ${err}, ${countDiff(got, ref)} values differ`);
    assert.ok(err <= 1e-6, `[${c},${h},${w}]->[${oh},${ow}]: ${err}`);
  }
});

test('unchanged size in the float paths returns a copy', () => {
  const x = new Float32Array(2 * 5 * 6).map((_, i) => Math.sin(i));
  assert.deepEqual(resizeAntialiasFloat32(x, 2, 5, 6, 5, 6), x);
  assert.deepEqual(resizeBilinearAlignCornersFloat32(x, 2, 5, 6, 5, 6), x);
});

test('argument validation', () => {
  const r: RasterU8 = { width: 2, height: 2, channels: 1, data: new Uint8Array(3) };
  assert.throws(() => resizeUint8(r, 4, 4), /raster data has 3 bytes/);
  assert.throws(() => resizeUint8({ ...r, data: new Uint8Array(4) }, 0, 4), /invalid output size/);
  assert.throws(() => resizeAntialiasFloat32(new Float32Array(3), 1, 2, 2, 1, 1), /expected 1x2x2/);
  assert.throws(() => bilinearAlignCornersMatrix(0, 3), /invalid interpolation sizes/);
});
