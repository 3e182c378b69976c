// NIfTI voxel-to-world affines and orientation, with nibabel's conventions:
// get_best_affine (sform, else qform, else the pixdim-based Analyze affine with x flipped) and
// io_orientation / aff2axcodes (nearest orthonormal axes, RAS+ labels).

export type Mat4 = number[][];

/** Rotation matrix of a NIfTI quaternion (b, c, d); a = sqrt(1 - b^2 - c^2 - d^2), 0 when slightly negative. */
function quatToMat(b: number, c: number, d: number): number[][] {
  const w2 = 1 - (b * b + c * c + d * d);
  const w = w2 < 0 ? 0 : Math.sqrt(w2);
  const nq = w * w + b * b + c * c + d * d;
  if (nq < 1e-12)
    return [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
  const s = 2 / nq;
  const [X, Y, Z] = [b * s, c * s, d * s];
  const [wX, wY, wZ] = [w * X, w * Y, w * Z];
  const [xX, xY, xZ] = [b * X, b * Y, b * Z];
  const [yY, yZ, zZ] = [c * Y, c * Z, d * Z];
  return [
    [1 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1 - (xX + yY)],
  ];
}

export interface AffineFields {
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** pixdim[0..7]; pixdim[0] is qfac. */
  pixdim: number[];
  /** dim[1..ndim]. */
  dims: number[];
  srow: [number[], number[], number[]];
}

/** nibabel's `get_best_affine`: sform when sform_code > 0, else qform when qform_code > 0, else the base affine. */
export function bestAffine(h: AffineFields): Mat4 {
  if (h.sformCode > 0) return [h.srow[0].slice(), h.srow[1].slice(), h.srow[2].slice(), [0, 0, 0, 1]];
  const zooms = [1, 2, 3].map((i) => h.pixdim[i] ?? 1);
  if (h.qformCode > 0) {
    const R = quatToMat(...h.quatern);
    const qfac = h.pixdim[0] === -1 ? -1 : 1;
    const s = [zooms[0], zooms[1], zooms[2] * qfac];
    return [
      [R[0][0] * s[0], R[0][1] * s[1], R[0][2] * s[2], h.qoffset[0]],
      [R[1][0] * s[0], R[1][1] * s[1], R[1][2] * s[2], h.qoffset[1]],
      [R[2][0] * s[0], R[2][1] * s[1], R[2][2] * s[2], h.qoffset[2]],
      [0, 0, 0, 1],
    ];
  }
  const shape = [0, 1, 2].map((i) => h.dims[i] ?? 1);
  const z = [-zooms[0], zooms[1], zooms[2]];
  return [
    [z[0], 0, 0, (-(shape[0] - 1) / 2) * z[0]],
    [0, z[1], 0, (-(shape[1] - 1) / 2) * z[1]],
    [0, 0, z[2], (-(shape[2] - 1) / 2) * z[2]],
    [0, 0, 0, 1],
  ];
}

function inverse3(m: number[][]): number[][] | null {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-300) return null;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/** Orthogonal polar factor of a 3x3 matrix (what nibabel gets as U V^T from the SVD), by Newton iteration. */
function nearestOrthonormal(m: number[][]): number[][] {
  let x = m.map((r) => r.slice());
  for (let it = 0; it < 100; it++) {
    const inv = inverse3(x);
    if (!inv) return x;
    const next = x.map((r, i) => r.map((v, j) => (v + inv[j][i]) / 2));
    const delta = Math.max(...next.flatMap((r, i) => r.map((v, j) => Math.abs(v - x[i][j]))));
    x = next;
    if (delta < 1e-15) break;
  }
  return x;
}

/**
 * nibabel's `io_orientation` for the first three voxel axes: for each voxel axis in turn, the world axis
 * (0 = x/R, 1 = y/A, 2 = z/S) it is closest to and the direction (+1 or -1, +1 meaning towards R/A/S).
 */
export function ioOrientation(affine: Mat4): { axis: number; flip: 1 | -1 }[] {
  const rzs = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c]));
  const zooms = [0, 1, 2].map((c) => Math.hypot(rzs[0][c], rzs[1][c], rzs[2][c]) || 1);
  const rs = rzs.map((row) => row.map((v, c) => v / zooms[c]));
  const R = nearestOrthonormal(rs);
  const out: { axis: number; flip: 1 | -1 }[] = [];
  const used = new Set<number>();
  for (let c = 0; c < 3; c++) {
    let best = -1;
    let bestAbs = -1;
    for (let r = 0; r < 3; r++) {
      if (used.has(r)) continue;
      // A non-finite affine (NaN pixdim or quaternion) orients nothing: its axes are taken as stored.
      const a = Number.isFinite(R[r][c]) ? Math.abs(R[r][c]) : 0;
      if (a > bestAbs) {
        bestAbs = a;
        best = r;
      }
    }
    used.add(best);
    out.push({ axis: best, flip: R[best][c] < 0 ? -1 : 1 });
  }
  return out;
}

/** Axis codes as nibabel's `aff2axcodes`, e.g. ['L', 'A', 'S']. */
export function axisCodes(affine: Mat4): [string, string, string] {
  const labels = [
    ['L', 'R'],
    ['P', 'A'],
    ['I', 'S'],
  ];
  const o = ioOrientation(affine);
  return [0, 1, 2].map((i) => labels[o[i].axis][o[i].flip === 1 ? 1 : 0]) as [string, string, string];
}
