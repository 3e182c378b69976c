// NIfTI-1 and NIfTI-2 reading (.nii, .nii.gz, and .hdr/.img pairs): header through nifti-reader-js,
// voxel values with scl_slope / scl_inter applied the way nibabel's get_fdata does, and 8-bit axial
// slices for display (nifti-window.ts).

import { readFile } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import * as nifti from 'nifti-reader-js';

import { axisCodes, bestAffine, type Mat4 } from './nifti-orient.ts';

export { niftiAxialSlices, niftiPercentiles, type NiftiSliceOptions, type NiftiWindow } from './nifti-window.ts';
export { axisCodes, bestAffine, ioOrientation, type Mat4 } from './nifti-orient.ts';

export class NiftiError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'NiftiError';
    this.file = file;
    this.reason = reason;
  }
}

export interface NiftiVolume {
  file: string;
  version: 1 | 2;
  /** dim[1..dim[0]]: [nx, ny, nz, nt, ...]. */
  dims: number[];
  /** pixdim[1..dim[0]] (voxel sizes, then time step ...). */
  pixdim: number[];
  datatype: number;
  datatypeName: string;
  littleEndian: boolean;
  /** Header scl_slope / scl_inter as stored. */
  sclSlope: number;
  sclInter: number;
  /** Whether the scaling was applied (scl_slope neither 0 nor non-finite, and not the identity). */
  scaled: boolean;
  qformCode: number;
  sformCode: number;
  /** Voxel-to-world affine chosen as nibabel's get_best_affine (sform, else qform, else base). */
  affine: Mat4;
  /** Orientation of the first three voxel axes as nibabel's aff2axcodes, e.g. ['L', 'A', 'S']. */
  axisCodes: [string, string, string];
  /** All voxels in file order (i fastest, then j, k, t, ...), scaled. */
  data: Float32Array | Float64Array;
}

export interface NiftiReadOptions {
  /**
   * Output precision (default 'float32'). 'float64' gives nibabel's `get_fdata()` exactly; 'float32'
   * gives `get_fdata(dtype=np.float32)` (scaling in float32 for 8/16-bit integer and float32 data).
   */
  dtype?: 'float32' | 'float64';
  /** Name used in error messages when the input is a buffer. */
  name?: string;
  /** Refuse volumes with more voxels than this (default MAX_NIFTI_VOXELS), before anything is allocated for them. */
  maxVoxels?: number;
}

/** Most voxels a volume may have by default: 2^28 (1 GiB as float32), e.g. 512 x 512 x 1024. */
export const MAX_NIFTI_VOXELS = 2 ** 28;

interface DatatypeInfo {
  name: string;
  bytes: number;
  read: (dv: DataView, off: number, le: boolean) => number;
  /** nibabel scales in float32 for get_fdata(dtype=float32) (integer types that promote to float32 with float32). */
  f32: boolean;
}

const DATATYPES: Record<number, DatatypeInfo> = {
  2: { name: 'uint8', bytes: 1, read: (dv, o) => dv.getUint8(o), f32: true },
  4: { name: 'int16', bytes: 2, read: (dv, o, le) => dv.getInt16(o, le), f32: true },
  8: { name: 'int32', bytes: 4, read: (dv, o, le) => dv.getInt32(o, le), f32: false },
  16: { name: 'float32', bytes: 4, read: (dv, o, le) => dv.getFloat32(o, le), f32: true },
  64: { name: 'float64', bytes: 8, read: (dv, o, le) => dv.getFloat64(o, le), f32: false },
  256: { name: 'int8', bytes: 1, read: (dv, o) => dv.getInt8(o), f32: true },
  512: { name: 'uint16', bytes: 2, read: (dv, o, le) => dv.getUint16(o, le), f32: true },
  768: { name: 'uint32', bytes: 4, read: (dv, o, le) => dv.getUint32(o, le), f32: false },
  1024: { name: 'int64', bytes: 8, read: (dv, o, le) => Number(dv.getBigInt64(o, le)), f32: false },
  1280: { name: 'uint64', bytes: 8, read: (dv, o, le) => Number(dv.getBigUint64(o, le)), f32: false },
};
const INT_RANGE: Record<number, [number, number]> = { 2: [0, 255], 256: [-128, 127], 4: [-32768, 32767], 512: [0, 65535] };
const UNSUPPORTED: Record<number, string> = {
  1: 'binary',
  32: 'complex64',
  128: 'RGB24',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

const GZIP = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

async function readBytes(path: string, name: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NiftiError(name, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message);
  }
}

/**
 * Inflates gzip data, stopping as soon as `limit(prefix)` bytes are out: `limit` is asked once the first
 * `probe` bytes (or all, if fewer) are inflated, and may throw to refuse the file. Nothing beyond the limit is
 * held, so a small file cannot inflate to more than its header says it needs.
 */
async function gunzipBounded(b: Uint8Array, name: string, probe: number, limit: (prefix: Uint8Array) => number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  let max = Infinity;
  const gz = createGunzip();
  const join = (): Uint8Array => new Uint8Array(Buffer.concat(chunks, total)); // a copy that owns its whole ArrayBuffer
  await new Promise<void>((resolve, reject) => {
    const stop = (err?: unknown): void => {
      gz.removeAllListeners('data');
      gz.destroy();
      if (err) reject(err);
      else resolve();
    };
    gz.on('data', (c: Buffer) => {
      chunks.push(c);
      total += c.length;
      try {
        if (max === Infinity && total >= probe) max = limit(join());
      } catch (err) {
        stop(err);
        return;
      }
      if (total >= max) stop();
    });
    gz.on('error', (err) => reject(new NiftiError(name, `cannot decompress gzip data (${err.message})`)));
    gz.on('end', () => resolve());
    gz.end(b);
  });
  if (max === Infinity) limit(join());
  const out = join();
  return total > max ? out.subarray(0, max) : out;
}

/** The bytes of `b` in an ArrayBuffer of their own (a Buffer may be a view into Node's shared pool). */
function own(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  return new Uint8Array(b).buffer;
}

interface Layout {
  version: 1 | 2;
  header: nifti.NIFTI1 | nifti.NIFTI2;
  dims: number[];
  count: number;
  info: DatatypeInfo;
  /** Byte offset of the voxels in the .nii file, or in the .img file of a pair. */
  offset: number;
  pair: boolean;
}

/** Parses and validates every header field that sizes or locates the voxel data, before anything is allocated. */
function layoutOf(bytes: Uint8Array, name: string, maxVoxels: number): Layout {
  const ab = own(bytes);
  const version = nifti.isNIFTI2(ab, true) ? 2 : nifti.isNIFTI1(ab, true) ? 1 : 0;
  if (version === 0) {
    throw new NiftiError(
      name,
      `not a NIfTI file (no NIfTI-1 or NIfTI-2 header: ${bytes.length < 348 ? `only ${bytes.length} bytes` : 'bad sizeof_hdr or magic'})`,
    );
  }
  const size = version === 1 ? 348 : 540;
  if (bytes.length < size) throw new NiftiError(name, `truncated header: ${bytes.length} bytes, a NIfTI-${version} header has ${size}`);
  let h: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    // The header bytes only: extensions are not needed, and their size fields are not trusted.
    h = nifti.readHeader(ab.slice(0, size), true);
  } catch (err) {
    throw new NiftiError(name, `corrupt NIfTI header (${(err as Error).message})`);
  }
  const ndim = h.dims[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new NiftiError(name, `invalid dim[0] = ${ndim}`);
  const dims = h.dims.slice(1, ndim + 1);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new NiftiError(name, `invalid dimensions [${dims.join(', ')}]`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > maxVoxels) throw new NiftiError(name, `volume of ${dims.join(' x ')} = ${count} voxels is larger than the ${maxVoxels} accepted`);
  const info = DATATYPES[h.datatypeCode];
  if (!info) {
    const what = UNSUPPORTED[h.datatypeCode] ?? 'unknown';
    throw new NiftiError(name, `unsupported NIfTI datatype ${h.datatypeCode} (${what})`);
  }
  // Magic 'ni1' / 'ni2' (instead of 'n+1' / 'n+2'): header and image in separate files.
  const pair = bytes[version === 1 ? 345 : 5] === 0x69;
  const vox = h.vox_offset;
  if (!Number.isFinite(vox) || vox < 0 || vox > Number.MAX_SAFE_INTEGER || (!pair && vox < size)) {
    throw new NiftiError(name, `invalid vox_offset ${vox}`);
  }
  return { version, header: h, dims, count, info, offset: Math.floor(vox), pair };
}

function headerFields(b: Uint8Array, version: 1 | 2, le: boolean): { srow: [number[], number[], number[]] } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const row = (off: number): number[] => [0, 1, 2, 3].map((i) => (version === 1 ? dv.getFloat32(off + 4 * i, le) : dv.getFloat64(off + 8 * i, le)));
  return version === 1 ? { srow: [row(280), row(296), row(312)] } : { srow: [row(400), row(432), row(464)] };
}

/** Reads a NIfTI-1/-2 volume: `.nii`, `.nii.gz`, or the `.hdr` of a `.hdr`/`.img` pair (either may be gzipped). */
export async function readNifti(input: string | Uint8Array, opts: NiftiReadOptions = {}): Promise<NiftiVolume> {
  const name = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  const maxVoxels = opts.maxVoxels ?? MAX_NIFTI_VOXELS;
  let bytes = typeof input === 'string' ? await readBytes(input, name) : input;
  if (bytes.length === 0) throw new NiftiError(name, 'empty file, 0 bytes');
  if (GZIP(bytes)) {
    // Inflate the header, then only as much as it says the file holds (a .hdr.gz: the header alone).
    bytes = await gunzipBounded(bytes, name, 540, (head) => {
      const l = layoutOf(head, name, maxVoxels);
      return l.pair ? head.length : l.offset + l.count * l.info.bytes;
    });
  }
  bytes = new Uint8Array(own(bytes));
  const { version, header: h, dims, count, info, offset, pair } = layoutOf(bytes, name, maxVoxels);
  const ndim = dims.length;
  const le = h.littleEndian;

  // Voxel data: after vox_offset in a .nii file, or in the sibling .img of a .hdr/.img pair.
  let voxels: Uint8Array;
  const need = offset + count * info.bytes;
  if (pair) {
    if (typeof input !== 'string') throw new NiftiError(name, 'a .hdr header needs its .img file: pass the path, not a buffer');
    const base = input.replace(/\.hdr(\.gz)?$/i, '');
    const imgPath = [`${base}.img`, `${base}.img.gz`];
    let img: Uint8Array | undefined;
    for (const p of imgPath) img ??= await readFile(p).catch(() => undefined);
    if (!img) throw new NiftiError(name, `missing image file ${imgPath[0]}`);
    voxels = GZIP(img) ? await gunzipBounded(img, imgPath[0], need, () => need) : img;
  } else {
    voxels = bytes;
  }
  if (voxels.length < need) {
    throw new NiftiError(name, `truncated: ${Math.max(0, voxels.length - offset)} bytes of voxel data, expected ${count * info.bytes}`);
  }

  // Scaling as nibabel: none when scl_slope is 0 or not finite; get_fdata() scales in float64,
  // get_fdata(dtype=float32) in float32 for the 8/16-bit integer and float32 types.
  const slope = h.scl_slope;
  const inter = h.scl_inter;
  const valid = slope !== 0 && Number.isFinite(slope);
  if (valid && !Number.isFinite(inter)) throw new NiftiError(name, `valid scl_slope ${slope} but invalid scl_inter ${inter}`);
  const scaled = valid && !(slope === 1 && inter === 0);
  const f32 = opts.dtype !== 'float64';
  const data = f32 ? new Float32Array(count) : new Float64Array(count);
  const dv = new DataView(voxels.buffer, voxels.byteOffset + offset, count * info.bytes);
  const f = Math.fround;
  const s32 = f(slope);
  const i32 = f(inter);
  // nibabel falls back to float64 when float32 scaling would overflow the integer type's range.
  const range = INT_RANGE[h.datatypeCode];
  const fits = !range || range.every((x) => Number.isFinite(f(f(x * s32) + i32)));
  const inF32 = f32 && info.f32 && fits;
  for (let n = 0, o = 0; n < count; n++, o += info.bytes) {
    const x = info.read(dv, o, le);
    if (!scaled) data[n] = x;
    else if (inF32) data[n] = f(f(x * s32) + i32);
    else data[n] = x * slope + inter;
  }

  const quatern: [number, number, number] = [h.quatern_b, h.quatern_c, h.quatern_d];
  const affine = bestAffine({
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quatern,
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    pixdim: h.pixDims,
    dims,
    srow: headerFields(bytes, version, le).srow,
  });
  return {
    file: name,
    version,
    dims,
    pixdim: h.pixDims.slice(1, ndim + 1),
    datatype: h.datatypeCode,
    datatypeName: info.name,
    littleEndian: le,
    sclSlope: slope,
    sclInter: inter,
    scaled,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    affine,
    axisCodes: axisCodes(affine),
    data,
  };
}
