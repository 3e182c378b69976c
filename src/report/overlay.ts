// Anomaly heatmaps over images: the map is resized bilinearly to the output size, coloured with a
// fixed value range (shared by all images of a run), alpha-blended over the image, and the ground
// truth, when given, is drawn as a thin contour. Output is PNG (sharp) or a raw RGB raster.

import type { ScoreArray } from '../eval/index.ts';
import { writeFileAtomic, type WriteOptions } from '../io/atomic-write.ts';
import { encodePng, loadImageRgb8, type Bit16Mode } from '../io/image/image.ts';
import { resizeAntialiasFloat32, resizeUint8, type RasterU8 } from '../io/image/resample.ts';
import { colorize, resolveRange, type ColormapName, type RangeSpec } from './colormap.ts';

/** An image file path, the bytes of an encoded image, or a decoded 8-bit grey (1) or RGB (3) raster. */
export type OverlayImage = string | Uint8Array | RasterU8;

export type Rgb = readonly [number, number, number];

/** Default contour colour: magenta, which none of jet, viridis and turbo contains. */
export const DEFAULT_CONTOUR_COLOR: Rgb = [255, 0, 255];

export interface OverlayOptions {
  image: OverlayImage;
  /** Row-major anomaly map, `mapHeight` x `mapWidth` (default: square, side sqrt(length)). */
  map: ScoreArray;
  mapWidth?: number;
  mapHeight?: number;
  /** Values mapped to the two ends of the colour map; use one range for every image of a run. */
  range: RangeSpec;
  /** Opacity of the heatmap over the image, 0..1 (default 0.5). */
  alpha?: number;
  /** Colour map (default 'jet'). */
  cmap?: ColormapName;
  /** Ground-truth mask with the map's size, non-zero = anomalous; drawn as a contour. */
  groundTruth?: Uint8Array;
  /** Contour colour (default magenta). */
  contourColor?: Rgb;
  /** Contour thickness in output pixels (default 1, or 2 when the output's shorter side is 512 or more). */
  contourWidth?: 1 | 2;
  /**
   * 'image' (default): the image's own size. A number N: N x N (the image is resized with Pillow's
   * bicubic filter, without keeping the aspect ratio, like the model's input).
   */
  outSize?: 'image' | number;
  /** 'overlay' (default), or 'panel': image | heatmap | overlay side by side. */
  layout?: 'overlay' | 'panel';
  /** Gap between the panels in pixels (default 4, white). */
  panelGap?: number;
  /** How 16-bit image files become 8-bit (as the image loader; default 'pil'). */
  bit16?: Bit16Mode;
}

function isRaster(x: OverlayImage): x is RasterU8 {
  return typeof x === 'object' && !(x instanceof Uint8Array);
}

/** Interleaved RGB copy of a 1- to 4-channel raster (grey replicated, alpha dropped). */
export function rasterToRgb(r: RasterU8): RasterU8 {
  const { width, height, channels, data } = r;
  const n = width * height;
  if (![1, 2, 3, 4].includes(channels) || data.length !== n * channels) {
    throw new RangeError(`invalid raster: ${width}x${height}x${channels} with ${data.length} bytes`);
  }
  if (channels === 3) return { width, height, channels: 3, data: data.slice() };
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    if (channels <= 2) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[s];
    else for (let c = 0; c < 3; c++) out[i * 3 + c] = data[s + c];
  }
  return { width, height, channels: 3, data: out };
}

async function loadRgb(image: OverlayImage, bit16: Bit16Mode): Promise<RasterU8> {
  if (isRaster(image)) return rasterToRgb(image);
  return loadImageRgb8(image, { bit16 });
}

function mapDims(opts: OverlayOptions): { mw: number; mh: number } {
  const n = opts.map.length;
  let mw = opts.mapWidth;
  let mh = opts.mapHeight;
  if (mw === undefined && mh === undefined) {
    const s = Math.round(Math.sqrt(n));
    if (s * s !== n) throw new RangeError(`map has ${n} values, not a square; pass mapWidth and mapHeight`);
    mw = mh = s;
  } else {
    mw ??= n / (mh as number);
    mh ??= n / mw;
  }
  if (!Number.isInteger(mw) || !Number.isInteger(mh) || mw < 1 || mh < 1 || mw * mh !== n) {
    throw new RangeError(`map has ${n} values, which is not ${mw}x${mh}`);
  }
  return { mw, mh };
}

/** Bilinear resize of a float map (PyTorch `interpolate(mode='bilinear', align_corners=False, antialias=True)`). */
export function resizeMap(map: ScoreArray, mw: number, mh: number, outW: number, outH: number): Float32Array {
  const src = map instanceof Float32Array ? map : Float32Array.from(map);
  if (mw === outW && mh === outH) return src.slice();
  return resizeAntialiasFloat32(src, 1, mh, mw, outH, outW, 'bilinear');
}

/** Resizes a 0/1 mask bilinearly and keeps the pixels where the interpolated value is >= 0.5. */
export function resizeMask(mask: Uint8Array, mw: number, mh: number, outW: number, outH: number): Uint8Array {
  if (mask.length !== mw * mh) throw new RangeError(`ground-truth mask has ${mask.length} values, expected ${mw}x${mh}`);
  const f = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) f[i] = mask[i] !== 0 ? 1 : 0;
  const r = resizeMap(f, mw, mh, outW, outH);
  const out = new Uint8Array(r.length);
  for (let i = 0; i < r.length; i++) out[i] = r[i] >= 0.5 ? 1 : 0;
  return out;
}

/**
 * Inner contour of a binary mask: mask pixels within `thickness` pixels (chessboard distance) of a
 * pixel outside the mask; pixels beyond the image border count as outside.
 */
export function maskContour(mask: Uint8Array, width: number, height: number, thickness = 1): Uint8Array {
  let cur = mask;
  for (let t = 0; t < thickness; t++) {
    const next = new Uint8Array(cur.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!cur[y * width + x]) continue;
        let keep = 1;
        for (let dy = -1; dy <= 1 && keep; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= height || xx < 0 || xx >= width || !cur[yy * width + xx]) {
              keep = 0;
              break;
            }
          }
        }
        next[y * width + x] = keep;
      }
    }
    cur = next;
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] && !cur[i] ? 1 : 0;
  return out;
}

function paint(rgb: Uint8Array, contour: Uint8Array, color: Rgb): void {
  for (let i = 0; i < contour.length; i++) {
    if (!contour[i]) continue;
    rgb[i * 3] = color[0];
    rgb[i * 3 + 1] = color[1];
    rgb[i * 3 + 2] = color[2];
  }
}

function hstack(panels: readonly RasterU8[], gap: number): RasterU8 {
  const h = panels[0].height;
  const w = panels.reduce((s, p) => s + p.width, 0) + gap * (panels.length - 1);
  const data = new Uint8Array(w * h * 3).fill(255);
  let x0 = 0;
  for (const p of panels) {
    for (let y = 0; y < h; y++) data.set(p.data.subarray(y * p.width * 3, (y + 1) * p.width * 3), (y * w + x0) * 3);
    x0 += p.width + gap;
  }
  return { width: w, height: h, channels: 3, data };
}

/** Renders the overlay (or the three-panel figure) as an RGB raster. */
export async function renderOverlay(opts: OverlayOptions): Promise<RasterU8> {
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be in [0, 1] (got ${alpha})`);
  const { mw, mh } = mapDims(opts);
  const range = resolveRange(opts.map, opts.range); // 'auto' refers to the map at its own resolution
  let img = await loadRgb(opts.image, opts.bit16 ?? 'pil');
  const out = opts.outSize ?? 'image';
  if (out !== 'image') {
    if (!Number.isInteger(out) || out < 1) throw new RangeError(`outSize must be 'image' or a positive integer (got ${out})`);
    if (img.width !== out || img.height !== out) img = resizeUint8(img, out, out, 'bicubic');
  }
  const { width: W, height: H } = img;
  const values = resizeMap(opts.map, mw, mh, W, H);
  const heat = colorize(values, W, H, range, opts.cmap ?? 'jet');
  const blended = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) {
    const bad = Number.isNaN(values[i]); // matplotlib's bad colour is transparent
    for (let c = 0; c < 3; c++) {
      const k = i * 3 + c;
      blended[k] = bad ? img.data[k] : Math.round((1 - alpha) * img.data[k] + alpha * heat[k]);
    }
  }
  if (opts.groundTruth) {
    const gt = resizeMask(opts.groundTruth, mw, mh, W, H);
    const thickness = opts.contourWidth ?? (Math.min(W, H) >= 512 ? 2 : 1);
    if (thickness !== 1 && thickness !== 2) throw new RangeError(`contourWidth must be 1 or 2 (got ${thickness})`);
    const contour = maskContour(gt, W, H, thickness);
    const color = opts.contourColor ?? DEFAULT_CONTOUR_COLOR;
    paint(blended, contour, color);
    paint(heat, contour, color);
  }
  const overlay: RasterU8 = { width: W, height: H, channels: 3, data: blended };
  if ((opts.layout ?? 'overlay') === 'overlay') return overlay;
  if (opts.layout !== 'panel') throw new RangeError(`unknown layout '${String(opts.layout)}'`);
  const gap = opts.panelGap ?? 4;
  if (!Number.isInteger(gap) || gap < 0) throw new RangeError(`panelGap must be a non-negative integer (got ${gap})`);
  return hstack([img, { width: W, height: H, channels: 3, data: heat }, overlay], gap);
}

/** The overlay (or panel) as a PNG file in memory. */
export async function heatmapOverlay(opts: OverlayOptions): Promise<Buffer> {
  const r = await renderOverlay(opts);
  return encodePng(r.data, r.width, r.height, 3);
}

/**
 * Writes the overlay PNG to `path` atomically (temporary file, then rename). An existing file is
 * an error unless `{ overwrite: true }`.
 */
export async function writeOverlay(path: string, opts: OverlayOptions, write: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, await heatmapOverlay(opts), write);
}
