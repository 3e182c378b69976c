/**
 * The official ×11 few-shot augmentation (spec §4.1, reference `utils.py` `augment`).
 *
 * Order of the 11 outputs:
 *   0      original
 *   1..4   rotations by −π/8, −π/16, +π/16, +π/8
 *   5..8   translations (a, b) = (0.1, 0.1), (−0.1, 0.1), (−0.1, −0.1), (0.1, −0.1)
 *   9      horizontal flip (reverse columns)
 *   10     vertical flip (reverse rows)
 *
 * Rotations and translations are torch's `affine_grid(θ, size, align_corners=False)` followed by
 * `grid_sample(x, grid, mode='bilinear', padding_mode='reflection', align_corners=False)`, with
 *   rotation by angle φ:  θ = [[cos φ, −sin φ, 0], [sin φ, cos φ, 0]]   (φ used as is, no negation)
 *   translation (a, b):   θ = [[1, 0, a], [0, 1, b]]
 * i.e. the output pixel at normalised position (x, y) (x along width, y along height, both in
 * [−1, 1], pixel centres at (2j+1)/W − 1) reads the input at θ·(x, y, 1). With y pointing down,
 * φ > 0 turns the content counter-clockwise on screen; a = 0.1 moves the content 0.05·W pixels
 * to the left (12 px at W = 240).
 *
 * Reflection padding follows torch exactly: the source coordinate is unnormalised to
 * ((g + 1)·W − 1) / 2, reflected about the image edges −0.5 and W − 0.5 (period 2W), then
 * clipped to [0, W − 1]; the bilinear neighbour at index W (weight 0 after clipping) is dropped.
 * Arithmetic is rounded to float32 step by step in the order of torch 1.13's CPU (AVX2, FMA)
 * float32 kernels, including which multiply-adds are fused, so results are bit-identical with
 * torch on that path apart from rare one-ulp double-rounding cases.
 *
 * Masks ([1, H, W] float) take the same geometric ops; threshold them at 0.5 afterwards
 * (`binarizeMask`). Normal support images get all-zero masks in the reference code.
 */

/** [C, H, W]. */
export type Shape3 = readonly [number, number, number];

/** Row-major 2×3 affine matrix [t00, t01, t02, t10, t11, t12] in normalised coordinates. */
export type Theta = readonly [number, number, number, number, number, number];

export type AugmentOp =
  | { readonly name: string; readonly kind: 'identity' }
  | { readonly name: string; readonly kind: 'affine'; readonly theta: Theta }
  | { readonly name: string; readonly kind: 'hflip' }
  | { readonly name: string; readonly kind: 'vflip' };

const f32 = Math.fround;

/**
 * Rotation matrix [[cos φ, −sin φ, 0], [sin φ, cos φ, 0]] in float32, the angle itself rounded
 * to float32 first (the reference builds `torch.tensor(angle)`, a float32 scalar, and takes its
 * cos/sin in float32).
 */
export function rotationTheta(angle: number): Theta {
  const a = f32(angle);
  const c = f32(Math.cos(a));
  const s = f32(Math.sin(a));
  return [c, f32(-s), 0, s, c, 0];
}

/** float32 cos/sin of float32(π/8) and float32(π/16) as torch 1.13 (CPU) evaluates them. */
const COS_PI_8 = 0.9238795042037964;
const SIN_PI_8 = 0.3826834559440613;
/** One ulp above the correctly rounded 0.98078525 that `rotationTheta(π/16)` gives. */
const COS_PI_16 = 0.9807853102684021;
const SIN_PI_16 = 0.19509032368659973;

/** The four official rotation matrices (−π/8, −π/16, +π/16, +π/8) with torch's exact entries. */
export const ROTATION_THETAS: readonly Theta[] = Object.freeze([
  [COS_PI_8, SIN_PI_8, 0, -SIN_PI_8, COS_PI_8, 0],
  [COS_PI_16, SIN_PI_16, 0, -SIN_PI_16, COS_PI_16, 0],
  [COS_PI_16, -SIN_PI_16, 0, SIN_PI_16, COS_PI_16, 0],
  [COS_PI_8, -SIN_PI_8, 0, SIN_PI_8, COS_PI_8, 0],
] as const);

export function translationTheta(a: number, b: number): Theta {
  return [1, 0, f32(a), 0, 1, f32(b)];
}

export const ROTATION_ANGLES: readonly number[] = Object.freeze([-Math.PI / 8, -Math.PI / 16, Math.PI / 16, Math.PI / 8]);

export const TRANSLATIONS: readonly (readonly [number, number])[] = Object.freeze([
  [0.1, 0.1],
  [-0.1, 0.1],
  [-0.1, -0.1],
  [0.1, -0.1],
] as const);

export const AUGMENT_OPS: readonly AugmentOp[] = Object.freeze([
  { name: 'original', kind: 'identity' },
  ...ROTATION_THETAS.map((theta, i): AugmentOp => ({
    name: `rotate(${['-pi/8', '-pi/16', '+pi/16', '+pi/8'][i]})`,
    kind: 'affine',
    theta,
  })),
  ...TRANSLATIONS.map(([a, b]): AugmentOp => ({ name: `translate(${a},${b})`, kind: 'affine', theta: translationTheta(a, b) })),
  { name: 'hflip', kind: 'hflip' },
  { name: 'vflip', kind: 'vflip' },
]);

export const AUGMENT_COUNT = 11;

function checkShape(data: Float32Array, shape: Shape3): void {
  const [c, h, w] = shape;
  for (const d of shape) {
    if (!Number.isInteger(d) || d <= 0) throw new RangeError(`invalid tensor shape [${shape.join(', ')}]`);
  }
  if (data.length !== c * h * w) {
    throw new RangeError(`tensor of length ${data.length} does not match shape [${shape.join(', ')}]`);
  }
}

/**
 * affine_grid's base coordinates for one axis, bit-exact with torch's CPU float32 path:
 * `linspace(−1, 1, n)` as the AVX2 kernel evaluates it (chunks of 8 whose first element is
 * start + step·i, or end − step·(n−1−i) past the halfway point, fused multiply-add; the rest of
 * the chunk base + k·step in plain float32; a scalar fused tail after the last 16-aligned
 * index), then `· (n−1) / n` in float32 (align_corners=False).
 */
function baseCoords(n: number): Float32Array {
  const out = new Float32Array(n);
  if (n <= 1) return out;
  const step = f32(2 / (n - 1));
  const half = Math.floor(n / 2);
  // One fused multiply-add in float32: the product of two float32 values is exact in float64.
  const head = (i: number): number => (i < half ? f32(step * i - 1) : f32(1 - step * (n - 1 - i)));
  const vecEnd = n - (n % 16);
  for (let i0 = 0; i0 < vecEnd; i0 += 8) {
    const base = head(i0);
    for (let k = 0; k < 8; k++) out[i0 + k] = f32(base + f32(k * step));
  }
  for (let i = vecEnd; i < n; i++) out[i] = head(i);
  for (let i = 0; i < n; i++) out[i] = f32(f32(out[i] * (n - 1)) / n);
  return out;
}

/**
 * Source coordinate in pixels: unnormalise ((g + 1)·size/2 − 0.5), reflect about −0.5 and
 * size − 0.5 (period 2·size), clip to [0, size − 1]. The multiply-adds are fused, as in torch's
 * AVX2 kernel (a float32 product is exact in float64, so one `f32` of the float64 expression
 * is the single rounding of a fused multiply-add).
 */
function sourceCoord(g: number, size: number): number {
  const twiceSpan = size * 2;
  const x = f32(f32(g + 1) * (size / 2) - 0.5);
  const absIn = Math.abs(f32(x + 0.5));
  const flips = Math.trunc(f32(absIn / twiceSpan));
  const extra = f32(absIn - flips * twiceSpan);
  const refl = f32(Math.min(extra, f32(twiceSpan - extra)) - 0.5);
  return Math.min(size - 1, Math.max(0, refl));
}

/**
 * affine_grid(θ, [1, C, H, W], align_corners=False) + grid_sample(bilinear, reflection,
 * align_corners=False) on one [C, H, W] tensor; output has the input's shape.
 */
export function affineGridSample(data: Float32Array, shape: Shape3, theta: Theta): Float32Array {
  checkShape(data, shape);
  const [C, H, W] = shape;
  const t = theta.map((v) => f32(v));
  const xs = baseCoords(W);
  const ys = baseCoords(H);
  const out = new Float32Array(C * H * W);
  const plane = H * W;
  for (let i = 0; i < H; i++) {
    const y = ys[i];
    for (let j = 0; j < W; j++) {
      const x = xs[j];
      // [x, y, 1]·θᵀ accumulated left to right with fused multiply-adds (torch's bmm).
      const gx = f32(f32(y * t[1] + f32(x * t[0])) + t[2]);
      const gy = f32(f32(y * t[4] + f32(x * t[3])) + t[5]);
      const sx = sourceCoord(gx, W);
      const sy = sourceCoord(gy, H);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const w = f32(sx - x0);
      const e = f32(1 - w);
      const n = f32(sy - y0);
      const s = f32(1 - n);
      const nw = f32(s * e);
      const ne = f32(s * w);
      const sw = f32(n * e);
      const se = f32(n * w);
      const hasE = x0 + 1 < W;
      const hasS = y0 + 1 < H;
      const o = i * W + j;
      for (let c = 0; c < C; c++) {
        const base = c * plane + y0 * W + x0;
        const vnw = data[base];
        const vne = hasE ? data[base + 1] : 0;
        const vsw = hasS ? data[base + W] : 0;
        const vse = hasE && hasS ? data[base + W + 1] : 0;
        // ((nw·v + ne·v) + sw·v) + se·v with fused multiply-adds, as torch's AVX2 kernel.
        out[c * plane + o] = f32(vse * se + f32(vsw * sw + f32(vne * ne + f32(vnw * nw))));
      }
    }
  }
  return out;
}

/** Reverses the columns (kornia hflip = flip(-1)). */
export function hflip(data: Float32Array, shape: Shape3): Float32Array {
  checkShape(data, shape);
  const [C, H, W] = shape;
  const out = new Float32Array(data.length);
  for (let r = 0; r < C * H; r++) {
    const o = r * W;
    for (let j = 0; j < W; j++) out[o + j] = data[o + W - 1 - j];
  }
  return out;
}

/** Reverses the rows (kornia vflip = flip(-2)). */
export function vflip(data: Float32Array, shape: Shape3): Float32Array {
  checkShape(data, shape);
  const [C, H, W] = shape;
  const out = new Float32Array(data.length);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < H; i++) {
      out.set(data.subarray((c * H + H - 1 - i) * W, (c * H + H - i) * W), (c * H + i) * W);
    }
  }
  return out;
}

/** One augmentation; always returns a new array. */
export function applyAugment(op: AugmentOp, data: Float32Array, shape: Shape3): Float32Array {
  switch (op.kind) {
    case 'identity':
      checkShape(data, shape);
      return new Float32Array(data);
    case 'affine':
      return affineGridSample(data, shape, op.theta);
    case 'hflip':
      return hflip(data, shape);
    case 'vflip':
      return vflip(data, shape);
  }
}

/** The 11 augmented versions of an image [C,H,W] or mask [1,H,W], in the official order. */
export function augment11(data: Float32Array, shape: Shape3): Float32Array[] {
  return AUGMENT_OPS.map((op) => applyAugment(op, data, shape));
}

/** Mask binarisation used by the training loop: value > threshold → 1, else 0. */
export function binarizeMask(mask: Float32Array, threshold = 0.5): Float32Array {
  const out = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] > threshold ? 1 : 0;
  return out;
}
