// Pillow's resampling kernels (libImaging/Resample.c), evaluated in double precision with the same
// operation order as the C code so that the fixed-point weights derived from them match exactly.

export type PillowFilterName = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

export interface PillowFilter {
  fn: (x: number) => number;
  support: number;
}

function boxFilter(x: number): number {
  return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}

function bilinearFilter(x: number): number {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

const F054 = Math.fround(0.54);
const F046 = Math.fround(0.46);

function hammingFilter(x: number): number {
  if (x < 0.0) x = -x;
  if (x === 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * Math.PI;
  return (Math.sin(x) / x) * (F054 + F046 * Math.cos(x));
}

/** Keys cubic convolution with a = -0.5. */
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

function sincFilter(x: number): number {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

function lanczosFilter(x: number): number {
  return -3.0 <= x && x < 3.0 ? sincFilter(x) * sincFilter(x / 3) : 0.0;
}

const FILTERS: Record<PillowFilterName, PillowFilter> = {
  box: { fn: boxFilter, support: 0.5 },
  bilinear: { fn: bilinearFilter, support: 1.0 },
  hamming: { fn: hammingFilter, support: 1.0 },
  bicubic: { fn: bicubicFilter, support: 2.0 },
  lanczos: { fn: lanczosFilter, support: 3.0 },
};

export function pillowFilter(name: PillowFilterName): PillowFilter {
  const f = FILTERS[name];
  if (!f) throw new RangeError(`unknown resampling filter '${String(name)}'`);
  return f;
}
