// NIfTI-1 and NIfTI-2 reading (.nii, .nii.gz, and .hdr/.img pairs): header through nifti-reader-js,
// voxel values with scl_slope / scl_inter applied the way nibabel's get_fdata does, and 8-bit axial
// slices for display (nifti-window.ts).

import { readFile } from 'node:fs/promises';
import * as nifti from 'nifti-reader-js';

import { DATATYPES, gunzipVoxels, UNSUPPORTED, VoxelWriter, type DatatypeInfo, type GzipPlan } from './nifti-voxels.ts';

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

/**
 * Most voxels a volume may have by default: 2^27, e.g. 512 x 512 x 512 (512 MiB as float32; reading and showing
 * such a volume stays near 1.1 GB). Pass `maxVoxels` for larger volumes.
 */
export const MAX_NIFTI_VOXELS = 2 ** 27;

const GZIP = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

async function readBytes(path: string, name: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NiftiError(name, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message);
  }
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

/** Scaling as nibabel: none when scl_slope is 0 or not finite. */
function scalingOf(h: nifti.NIFTI1 | nifti.NIFTI2, name: string): { slope: number; inter: number; scaled: boolean } {
  const slope = h.scl_slope;
  const inter = h.scl_inter;
  const valid = slope !== 0 && Number.isFinite(slope);
  if (valid && !Number.isFinite(inter)) throw new NiftiError(name, `valid scl_slope ${slope} but invalid scl_inter ${inter}`);
  return { slope, inter, scaled: valid && !(slope === 1 && inter === 0) };
}

function makeWriter(l: Layout, name: string, f32: boolean): VoxelWriter {
  return new VoxelWriter(l.header.datatypeCode, l.header.littleEndian, l.count, scalingOf(l.header, name), f32);
}

/** Reads a NIfTI-1/-2 volume: `.nii`, `.nii.gz`, or the `.hdr` of a `.hdr`/`.img` pair (either may be gzipped). */
export async function readNifti(input: string | Uint8Array, opts: NiftiReadOptions = {}): Promise<NiftiVolume> {
  const name = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  const maxVoxels = opts.maxVoxels ?? MAX_NIFTI_VOXELS;
  const f32 = opts.dtype !== 'float64';
  const input0 = typeof input === 'string' ? await readBytes(input, name) : input;
  if (input0.length === 0) throw new NiftiError(name, 'empty file, 0 bytes');
  let layout: Layout | undefined;
  let writer: VoxelWriter | undefined;
  // The header is validated, and the output allocated, before any voxel is read.
  const start = (head: Uint8Array): GzipPlan => {
    layout = layoutOf(head, name, maxVoxels);
    if (!layout.pair) writer = makeWriter(layout, name, f32);
    return { offset: layout.offset, writer };
  };
  let bytes: Uint8Array;
  if (GZIP(input0)) {
    // Inflated while decoded: the header, then only as many voxel bytes as it declares.
    bytes = await gunzipVoxels(input0, 540, start, (why) => new NiftiError(name, why));
  } else {
    bytes = new Uint8Array(own(input0));
    const plan = start(bytes);
    plan.writer?.push(bytes.subarray(Math.min(plan.offset, bytes.length)));
  }
  const { version, header: h, dims, count, info, offset, pair } = layout!;
  const ndim = dims.length;
  const le = h.littleEndian;

  // Voxel data of a .hdr/.img pair: in the sibling .img (which may be gzipped).
  if (pair) {
    if (typeof input !== 'string') throw new NiftiError(name, 'a .hdr header needs its .img file: pass the path, not a buffer');
    const base = input.replace(/\.hdr(\.gz)?$/i, '');
    const imgPath = [`${base}.img`, `${base}.img.gz`];
    let img: Uint8Array | undefined;
    for (const p of imgPath) img ??= await readFile(p).catch(() => undefined);
    if (!img) throw new NiftiError(name, `missing image file ${imgPath[0]}`);
    const w = makeWriter(layout!, name, f32);
    writer = w;
    if (GZIP(img))
      await gunzipVoxels(
        img,
        0,
        () => ({ offset, writer: w }),
        (why) => new NiftiError(imgPath[0], why),
      );
    else w.push(img.subarray(Math.min(offset, img.length)));
  }
  if (!writer!.complete) {
    throw new NiftiError(name, `truncated: ${Math.min(writer!.received, count * info.bytes)} bytes of voxel data, expected ${count * info.bytes}`);
  }
  const data = writer!.data;
  const { slope, inter, scaled } = scalingOf(h, name);

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
