import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

import { encodePng } from '../../src/io/image/image.ts';
import type { RasterU8 } from '../../src/io/image/resample.ts';
import { heatmapOverlay, maskContour, renderOverlay, writeOverlay } from '../../src/report/overlay.ts';
import { lutColour } from './pyref.ts';

// Published jet end points (matplotlib, bytes=True): value 0 -> (0, 0, 127), value 1 -> (127, 0, 0).
const JET_LOW = [0, 0, 127];
const JET_HIGH = [127, 0, 0];
const MAGENTA = [255, 0, 255];

const W = 100;
const H = 68;
const S = 24;
// hot square of the map: rows 6..11, columns 12..17
const R0 = 6;
const R1 = 12;
const C0 = 12;
const C1 = 18;

function greyImage(value: number): RasterU8 {
  return { width: W, height: H, channels: 1, data: new Uint8Array(W * H).fill(value) };
}

function squareMap(): Float32Array {
  const m = new Float32Array(S * S);
  for (let y = R0; y < R1; y++) for (let x = C0; x < C1; x++) m[y * S + x] = 1;
  return m;
}

function squareMask(): Uint8Array {
  const m = new Uint8Array(S * S);
  for (let y = R0; y < R1; y++) for (let x = C0; x < C1; x++) m[y * S + x] = 1;
  return m;
}

function px(r: RasterU8, x: number, y: number): number[] {
  const i = (y * r.width + x) * r.channels;
  return Array.from(r.data.subarray(i, i + r.channels));
}

function blend(img: number, heat: number[], alpha = 0.5): number[] {
  return heat.map((h) => Math.round((1 - alpha) * img + alpha * h));
}

/** Half-pixel-centre bilinear interpolation along one axis (independent of the code under test). */
function lin1d(out: number, outSize: number, inSize: number, f: (i: number) => number): number {
  const u = Math.max(0, ((out + 0.5) * inSize) / outSize - 0.5);
  const i0 = Math.floor(u);
  const i1 = Math.min(i0 + 1, inSize - 1);
  return f(i0) * (1 - (u - i0)) + f(i1) * (u - i0);
}

function bilinear(map: Float32Array, x: number, y: number): number {
  return lin1d(y, H, S, (j) => lin1d(x, W, S, (i) => map[j * S + i]));
}

test('a hot square lands where it is in the map, with jet colours blended at alpha 0.5', async () => {
  const map = squareMap();
  const r = await renderOverlay({ image: greyImage(100), map, range: { min: 0, max: 1 } });
  assert.equal(r.width, W);
  assert.equal(r.height, H);
  assert.equal(r.channels, 3);
  // square's centre in image coordinates: x = 15 * 100/24 = 62.5, y = 9 * 68/24 = 25.5
  assert.deepEqual(px(r, 62, 25), blend(100, JET_HIGH));
  for (const [x, y] of [
    [5, 5],
    [90, 60],
    [20, 40],
    [60, 55],
    [30, 25],
  ]) {
    assert.deepEqual(px(r, x, y), blend(100, JET_LOW), `outside at (${x}, ${y})`);
  }
  // the 0.5 crossing of the left edge (x + 0.5 = 12 * 100/24 = 50) lies between x = 49 and x = 50
  const left = px(r, 49, 25);
  const right = px(r, 50, 25);
  assert.ok(left[2] > left[0], `x=49 is on the cold side: ${left}`);
  assert.ok(right[0] > right[2], `x=50 is on the hot side: ${right}`);
  // exact colours of edge pixels: interpolated value coloured by matplotlib's jet
  const pts = [
    [48, 25],
    [49, 25],
    [50, 25],
    [51, 25],
    [62, 15],
    [62, 16],
    [62, 17],
    [74, 33],
    [75, 34],
    [73, 35],
  ];
  const ts = pts.map(([x, y]) => bilinear(map, x, y));
  for (const t of ts) {
    if (t === 0 || t === 1) continue;
    const e = t * 256 - Math.floor(t * 256);
    assert.ok(e > 1e-3 && e < 1 - 1e-3, `test point ${t} is not near a colour-table edge`);
  }
  // matplotlib's jet (committed table) of each interpolated value
  pts.forEach(([x, y], k) => {
    assert.deepEqual(px(r, x, y), blend(100, lutColour('jet', ts[k])), `edge pixel (${x}, ${y}), value ${ts[k]}`);
  });
});

test('ground truth is drawn as a 1 px contour on the mask boundary', async () => {
  const r = await renderOverlay({
    image: greyImage(100),
    map: new Float32Array(S * S),
    range: { min: 0, max: 1 },
    groundTruth: squareMask(),
    contourWidth: 1,
  });
  // the mask covers x + 0.5 in [12, 18) * 100/24 and y + 0.5 in [6, 12) * 68/24: x in [50, 75), y in [17, 34)
  const isMagenta = (x: number, y: number): boolean => px(r, x, y).join() === MAGENTA.join();
  // straight edges (the bilinear mask rounds the outermost corner pixels off)
  for (let x = 51; x < 74; x++) {
    assert.ok(isMagenta(x, 17), `top edge (${x}, 17)`);
    assert.ok(isMagenta(x, 33), `bottom edge (${x}, 33)`);
    assert.ok(!isMagenta(x, 16) && !isMagenta(x, 34), `outside the mask at column ${x}`);
  }
  for (let y = 18; y < 33; y++) {
    assert.ok(isMagenta(50, y), `left edge (50, ${y})`);
    assert.ok(isMagenta(74, y), `right edge (74, ${y})`);
    assert.ok(!isMagenta(49, y) && !isMagenta(75, y), `outside the mask at row ${y}`);
  }
  // every contour pixel is on the boundary ring, everything else is the plain overlay
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inRing = x >= 50 && x <= 74 && y >= 17 && y <= 33 && !(x >= 52 && x <= 72 && y >= 19 && y <= 31);
      if (!inRing) assert.deepEqual(px(r, x, y), blend(100, JET_LOW), `(${x}, ${y}) is not contour`);
    }
  }
});

test('maskContour: thickness 2 and the image border', () => {
  const m = new Uint8Array(8 * 6);
  for (let y = 0; y < 6; y++) for (let x = 2; x < 8; x++) m[y * 8 + x] = 1; // touches top, bottom, right
  const c2 = maskContour(m, 8, 6, 2);
  const rows = Array.from({ length: 6 }, (_, y) => Array.from(c2.subarray(y * 8, y * 8 + 8)).join(''));
  assert.deepEqual(rows, ['00111111', '00111111', '00110011', '00110011', '00111111', '00111111']);
});

test('panel layout: image | heatmap | overlay; outSize scales to N x N', async () => {
  const r = await renderOverlay({ image: greyImage(100), map: squareMap(), range: { min: 0, max: 1 }, layout: 'panel', panelGap: 4 });
  assert.equal(r.width, 3 * W + 8);
  assert.equal(r.height, H);
  assert.deepEqual(px(r, 62, 25), [100, 100, 100], 'image panel');
  assert.deepEqual(px(r, W + 4 + 62, 25), JET_HIGH, 'heatmap panel, hot');
  assert.deepEqual(px(r, W + 4 + 5, 5), JET_LOW, 'heatmap panel, cold');
  assert.deepEqual(px(r, 2 * (W + 4) + 62, 25), blend(100, JET_HIGH), 'overlay panel');
  assert.deepEqual(px(r, W + 1, 10), [255, 255, 255], 'gap');
  const s = await renderOverlay({ image: greyImage(100), map: squareMap(), range: { min: 0, max: 1 }, outSize: 48 });
  assert.equal(s.width, 48);
  assert.equal(s.height, 48);
  assert.deepEqual(px(s, 30, 18), blend(100, JET_HIGH)); // (15, 9) of the map at factor 2
  assert.deepEqual(px(s, 3, 40), blend(100, JET_LOW));
});

test('PNG output from an image file; the shared range fixes colours; alpha', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-overlay-'));
  try {
    const rgb = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; i++) rgb.set([200, 40, 10], i * 3);
    const file = join(dir, 'img.png');
    await encodePng(rgb, W, H, 3, file);
    // map values 0..0.5 in a run whose range is 0..2: the hot square is 0.5 -> index 64 of jet
    const map = squareMap().map((v) => v * 0.5);
    const png = await heatmapOverlay({ image: file, map, range: { min: 0, max: 2 }, alpha: 0.25 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, W);
    assert.equal(info.height, H);
    assert.equal(info.channels, 3);
    // matplotlib's jet of 0.5 and 0 on the shared range [0, 2]: table entries of 0.25 and 0
    const jet = [...lutColour('jet', 0.25), ...lutColour('jet', 0)];
    const at = (x: number, y: number): number[] => Array.from(data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3));
    const mix = (heat: number[]): number[] => heat.map((h, c) => Math.round(0.75 * [200, 40, 10][c] + 0.25 * h));
    assert.deepEqual(at(62, 25), mix(jet.slice(0, 3)));
    assert.deepEqual(at(5, 5), mix(jet.slice(3, 6)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeOverlay is atomic and refuses to overwrite unless asked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-overlay-'));
  try {
    const path = join(dir, 'o.png');
    const opts = { image: greyImage(100), map: squareMap(), range: { min: 0, max: 1 } };
    await writeOverlay(path, opts);
    const first = readFileSync(path);
    assert.deepEqual(first.subarray(1, 4).toString('latin1'), 'PNG');
    await assert.rejects(writeOverlay(path, { ...opts, alpha: 1 }), /already exists/);
    assert.ok(readFileSync(path).equals(first), 'existing file untouched');
    await writeOverlay(path, { ...opts, alpha: 1 }, { overwrite: true });
    assert.ok(!readFileSync(path).equals(first), 'replaced when asked');
    assert.deepEqual(readdirSync(dir), ['o.png'], 'no temporary files left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('overlay argument checks', async () => {
  const base = { image: greyImage(100), range: { min: 0, max: 1 } } as const;
  await assert.rejects(renderOverlay({ ...base, map: new Float32Array(10) }), /not a square/);
  await assert.rejects(renderOverlay({ ...base, map: squareMap(), alpha: 1.5 }), /alpha/);
  await assert.rejects(renderOverlay({ ...base, map: squareMap(), groundTruth: new Uint8Array(5) }), /ground-truth mask/);
  await assert.rejects(renderOverlay({ ...base, map: squareMap(), outSize: 0 }), /outSize/);
  const r = await renderOverlay({ ...base, map: new Float32Array(6 * 4), mapWidth: 6, mapHeight: 4 });
  assert.equal(r.width, W);
});
