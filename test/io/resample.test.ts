// Resampling parity: Pillow (bit-exact, 8-bit) and PyTorch (float32) references generated on the fly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  bilinearAlignCornersMatrix,
  resizeAntialiasFloat32,
  resizeBilinearAlignCornersFloat32,
  resizeUint8,
  torchAntialiasWeights,
  type PillowResample,
  type RasterU8,
} from '../../src/io/resample.ts';
import { DATA_DIR, countDiff, makeTempDir, maxAbsDiff, readF32, runPyRef, type Job } from './image-pyref.ts';

const FILTERS: PillowResample[] = ['bicubic', 'bilinear', 'nearest', 'lanczos', 'box', 'hamming'];

interface Source {
  label: string;
  src: string;
  mode: 'L' | 'RGB';
}

function sources(dir: string): { sources: Source[]; synth: Job[] } {
  const busi = (p: string) => join(DATA_DIR, 'BUSI_AD', p);
  const synth: Job[] = [
    { op: 'random_png', kind: 'RGB', width: 320, height: 215, seed: 11, out: join(dir, 's320x215.png') },
    { op: 'random_png', kind: 'L', width: 100, height: 60, seed: 12, out: join(dir, 's100x60.png') },
    { op: 'random_png', kind: 'RGB', width: 240, height: 240, seed: 13, out: join(dir, 's240.png') },
  ];
  return {
    synth,
    sources: [
      { label: 'BUSI 320x307 grey', src: busi('test/good/img/busi_0002.png'), mode: 'L' },
      { label: 'BUSI 320x240 grey', src: busi('test/good/img/busi_0011.png'), mode: 'L' },
      { label: 'BUSI 219x320 grey as RGB', src: busi('test/Ungood/img/busi_0042.png'), mode: 'RGB' },
      { label: 'LGG 320x320 RGB', src: join(DATA_DIR, 'BrainFLAIR_masks/img/lgg_0001.png'), mode: 'RGB' },
      { label: 'LGG 320x320 RGB as L', src: join(DATA_DIR, 'BrainFLAIR_masks/img/lgg_0002.png'), mode: 'L' },
      { label: 'synthetic 320x215 RGB', src: join(dir, 's320x215.png'), mode: 'RGB' },
      { label: 'synthetic 100x60 L', src: join(dir, 's100x60.png'), mode: 'L' },
      { label: 'synthetic 240x240 RGB', src: join(dir, 's240.png'), mode: 'RGB' },
    ],
  };
}

const SIZES: [number, number][] = [
  [240, 240],
  [100, 57],
  [400, 333],
  [240, 180],
  [240, 320],
];

test('Pillow 8-bit resize is bit-exact (grey and RGB, all filters, down/up/non-square)', (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    const { sources: srcs, synth } = sources(dir);
    runPyRef('image_pil_ref.py', synth, dir);
    const jobs: Job[] = [];
    const cases: { source: number; filter: PillowResample; w: number; h: number; box?: number[]; out: string }[] = [];
    srcs.forEach((s, i) => {
      jobs.push({ op: 'raw', src: s.src, mode: s.mode, out: join(dir, `src${i}.raw`) });
      for (const filter of FILTERS) {
        for (const [w, h] of SIZES) {
          const out = join(dir, `r${cases.length}.raw`);
          cases.push({ source: i, filter, w, h, out });
          jobs.push({ op: 'resize', src: s.src, mode: s.mode, width: w, height: h, filter, out });
        }
      }
    });
    // source boxes (Image.resize(size, resample, box)), fractional and integral
    for (const filter of ['bicubic', 'nearest', 'lanczos'] as const) {
      const boxes: [number[], number, number][] = [
        [[10.5, 3.25, 200, 150], 240, 240],
        [[0, 0, 100, 60], 100, 60], // integral box of the output size: Pillow crops
        [[20, 10, 260, 200], 120, 90],
      ];
      for (const [box, w, h] of boxes) {
        const out = join(dir, `r${cases.length}.raw`);
        cases.push({ source: 5, filter, w, h, box, out });
        jobs.push({ op: 'resize', src: srcs[5].src, mode: 'RGB', width: w, height: h, filter, box, out });
      }
    }
    const res = runPyRef('image_pil_ref.py', jobs, dir);
    const rasters: RasterU8[] = srcs.map((s, i) => {
      const info = res.results[jobs.findIndex((j) => j.out === join(dir, `src${i}.raw`))] as { size: [number, number] };
      const data = new Uint8Array(readFileSync(join(dir, `src${i}.raw`)));
      return { width: info.size[0], height: info.size[1], channels: s.mode === 'L' ? 1 : 3, data };
    });
    let exact = 0;
    for (const c of cases) {
      const ref = new Uint8Array(readFileSync(c.out));
      const got = resizeUint8(rasters[c.source], c.w, c.h, c.filter, c.box as [number, number, number, number] | undefined);
      const what = `${srcs[c.source].label} -> ${c.w}x${c.h} ${c.filter}${c.box ? ` box ${c.box.join(',')}` : ''}`;
      assert.equal(got.data.length, ref.length, what);
      assert.equal(countDiff(got.data, ref), 0, `${what}: ${countDiff(got.data, ref)} bytes differ (max ${maxAbsDiff(got.data, ref)})`);
      exact++;
    }
    t.diagnostic(`Pillow ${res.version}: ${exact}/${cases.length} resize cases bit-exact`);
  } finally {
    cleanup();
  }
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
  { c: 1024, h: 24, w: 24, oh: 17, ow: 17, mode: 'bicubic' }, // CLIP ViT-L/14 pos-embed 336->240 px grid
  { c: 1024, h: 24, w: 24, oh: 17, ow: 17, mode: 'bicubic', channelsLast: true }, // as open_clip lays it out
  { c: 3, h: 7, w: 7, oh: 10, ow: 10, mode: 'bicubic' }, // upsampling
  { c: 5, h: 31, w: 23, oh: 12, ow: 40, mode: 'bicubic' }, // down one axis, up the other
  { c: 8, h: 64, w: 64, oh: 7, ow: 9, mode: 'bicubic' }, // many taps per output
  { c: 4, h: 16, w: 16, oh: 16, ow: 11, mode: 'bicubic' }, // one axis unchanged
  { c: 5, h: 31, w: 23, oh: 12, ow: 9, mode: 'bilinear' },
  { c: 8, h: 100, w: 90, oh: 30, ow: 11, mode: 'bilinear' },
];

test('torch antialiased interpolate parity (bicubic/bilinear, float32)', (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    const jobs: Job[] = AA_CASES.map((c, i) => ({
      op: 'aa',
      input: join(dir, `aa${i}_in.f32`),
      out: join(dir, `aa${i}_out.f32`),
      c: c.c,
      h: c.h,
      w: c.w,
      oh: c.oh,
      ow: c.ow,
      mode: c.mode,
      seed: 100 + i,
      channels_last: c.channelsLast ?? false,
    }));
    const res = runPyRef('image_torch_ref.py', jobs, dir);
    AA_CASES.forEach((c, i) => {
      const x = readF32(jobs[i].input as string);
      const ref = readF32(jobs[i].out as string);
      const got = resizeAntialiasFloat32(x, c.c, c.h, c.w, c.oh, c.ow, c.mode);
      const err = maxAbsDiff(got, ref);
      const label = `${c.mode} [${c.c},${c.h},${c.w}]->[${c.oh},${c.ow}]${c.channelsLast ? ' channels-last' : ''}`;
      t.diagnostic(`torch ${res.version} ${label}: max abs err ${err}, ${countDiff(got, ref)}/${ref.length} values differ`);
      assert.ok(err <= 1e-6, `${label}: max abs err ${err}`);
    });
  } finally {
    cleanup();
  }
});

test('torch antialias weights match torch (one-hot probe)', (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    const pairs: [number, number, 'bicubic' | 'bilinear'][] = [
      [24, 17, 'bicubic'],
      [7, 10, 'bicubic'],
      [64, 9, 'bicubic'],
      [31, 12, 'bilinear'],
    ];
    const jobs: Job[] = pairs.map(([a, b, mode], i) => ({ op: 'aa_weights', n_in: a, n_out: b, mode, out: join(dir, `w${i}.f32`) }));
    runPyRef('image_torch_ref.py', jobs, dir);
    pairs.forEach(([nIn, nOut, mode], i) => {
      const ref = readF32(jobs[i].out as string);
      const w = torchAntialiasWeights(nIn, nOut, mode);
      const m = new Float32Array(nOut * nIn);
      for (let o = 0; o < nOut; o++) for (let j = 0; j < w.size[o]; j++) m[o * nIn + w.min[o] + j] = w.weights[o * w.ksize + j];
      const err = maxAbsDiff(m, ref);
      t.diagnostic(`${mode} ${nIn}->${nOut}: weight max abs err ${err}`);
      assert.ok(err <= 1e-7, `${mode} ${nIn}->${nOut}: ${err}`);
    });
  } finally {
    cleanup();
  }
});

test('bilinear align_corners=True matrix and separable application match torch', (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    const jobs: Job[] = [
      { op: 'align_matrix', n_in: 17, n_out: 240, out: join(dir, 'm17.f32') },
      { op: 'align_matrix', n_in: 5, n_out: 3, out: join(dir, 'm5.f32') },
      { op: 'align', c: 2, h: 17, w: 17, oh: 240, ow: 240, seed: 5, input: join(dir, 'a_in.f32'), out: join(dir, 'a_out.f32') },
      { op: 'align', c: 3, h: 9, w: 13, oh: 20, ow: 7, seed: 6, input: join(dir, 'b_in.f32'), out: join(dir, 'b_out.f32') },
    ];
    runPyRef('image_torch_ref.py', jobs, dir);
    for (const [file, nIn, nOut] of [
      ['m17.f32', 17, 240],
      ['m5.f32', 5, 3],
    ] as const) {
      const err = maxAbsDiff(bilinearAlignCornersMatrix(nIn, nOut), readF32(join(dir, file)));
      t.diagnostic(`matrix ${nIn}->${nOut}: max abs err ${err}`);
      assert.ok(err <= 1e-7, `matrix ${nIn}->${nOut}: ${err}`);
    }
    for (const [tag, c, h, w, oh, ow] of [
      ['a', 2, 17, 17, 240, 240],
      ['b', 3, 9, 13, 20, 7],
    ] as const) {
      const got = resizeBilinearAlignCornersFloat32(readF32(join(dir, `${tag}_in.f32`)), c, h, w, oh, ow);
      const ref = readF32(join(dir, `${tag}_out.f32`));
      const err = maxAbsDiff(got, ref);
      t.diagnostic(`bilinear align_corners [${c},${h},${w}]->[${oh},${ow}]: max abs err ${err}, ${countDiff(got, ref)} values differ`);
      assert.ok(err <= 1e-6, `[${c},${h},${w}]->[${oh},${ow}]: ${err}`);
    }
  } finally {
    cleanup();
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
