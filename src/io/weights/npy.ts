// NumPy `.npy` arrays (format versions 1.0, 2.0 and 3.0): decode, encode, read and atomic write.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic, type WriteOptions } from '../atomic-write.ts';
import { buildNpyHeader, parsePyLiteral, type PyLiteral } from './npy-header.ts';
import { materialize } from './strided.ts';
import { WeightFileError, byteswapInPlace, dtypeByteSize, isHostTensor, tensorBytes, tensorFromBytes, type DType, type HostTensor } from './tensor.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy type code (without byte order) → dtype. `u2` is resolved through `uint16As`. */
const CODES: Record<string, DType | 'u2'> = {
  f4: 'float32',
  f8: 'float64',
  f2: 'float16',
  i8: 'int64',
  i4: 'int32',
  i2: 'int16',
  i1: 'int8',
  u1: 'uint8',
  b1: 'bool',
  u2: 'u2',
};

const DESCR: Record<DType, string> = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  int64: '<i8',
  int32: '<i4',
  int16: '<i2',
  int8: '|i1',
  uint8: '|u1',
  bool: '|b1',
  bfloat16: '<u2',
};

export interface DecodeNpyOptions {
  /**
   * numpy has no bfloat16, so bfloat16 arrays travel as their uint16 bit patterns ('<u2'). This says how to
   * interpret '<u2' arrays: as 'bfloat16' (default) or 'float16' bit patterns.
   */
  uint16As?: 'bfloat16' | 'float16';
}

function parseHeader(name: string, bytes: Uint8Array): { dtype: DType; bigEndian: boolean; fortran: boolean; shape: number[]; dataStart: number } {
  const fail = (what: string): never => {
    throw new WeightFileError(name, what);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('not a .npy file (missing \\x93NUMPY magic)');
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`unsupported .npy format version ${major}.${bytes[7]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail('truncated .npy header');
  const hlen = lenBytes === 2 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataStart = 8 + lenBytes + hlen;
  if (dataStart > bytes.length) fail(`.npy header length ${hlen} runs past the end of the file (${bytes.length} bytes; truncated?)`);
  const raw = bytes.subarray(8 + lenBytes, dataStart);
  let text: string;
  try {
    text = major === 3 ? new TextDecoder('utf-8', { fatal: true }).decode(raw) : new TextDecoder('latin1').decode(raw);
  } catch {
    return fail('.npy header is not valid UTF-8');
  }
  let d: PyLiteral;
  try {
    d = parsePyLiteral(text);
  } catch (e) {
    return fail(`malformed .npy header: ${(e as Error).message}`);
  }
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return fail('.npy header is not a dict');
  const { descr, fortran_order: fortran, shape } = d;
  if (typeof descr !== 'string') return fail(`unsupported dtype descr ${JSON.stringify(descr)} (structured arrays are not supported)`);
  if (typeof fortran !== 'boolean') return fail("'fortran_order' must be True or False");
  if (!Array.isArray(shape) || !shape.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    return fail("'shape' must be a tuple of non-negative integers");
  }
  const m = /^([<>|=]?)([a-z]\d+)$/.exec(descr);
  const code = m ? CODES[m[2]] : undefined;
  if (!m || code === undefined || !Object.hasOwn(CODES, m[2])) {
    return fail(`unsupported dtype '${descr}' (supported: ${Object.keys(CODES).join(', ')})`);
  }
  return { dtype: code === 'u2' ? 'bfloat16' : code, bigEndian: m[1] === '>', fortran, shape: shape as number[], dataStart };
}

/** Decodes a `.npy` file held in memory. Big-endian data is converted; Fortran-order data is transposed to C order. */
export function decodeNpy(bytes: Uint8Array, name = '<buffer>', options: DecodeNpyOptions = {}): HostTensor {
  const h = parseHeader(name, bytes);
  let dtype = h.dtype;
  if (dtype === 'bfloat16' && options.uint16As === 'float16') dtype = 'float16';
  let numel = 1;
  for (const s of h.shape) numel *= s;
  const nbytes = numel * dtypeByteSize(dtype);
  const have = bytes.length - h.dataStart;
  if (have !== nbytes) {
    throw new WeightFileError(name, `shape (${h.shape.join(', ')}) needs ${nbytes} data bytes but the file has ${have}${have < nbytes ? ' (truncated?)' : ''}`);
  }
  if (!h.fortran) {
    const t = tensorFromBytes(dtype, h.shape.slice(), bytes.subarray(h.dataStart));
    if (h.bigEndian) byteswapInPlace(t.data);
    return t;
  }
  // Fortran order: the bytes are the C-order array of the reversed shape; read them with column-major strides.
  const flat = tensorFromBytes(dtype, [numel], bytes.subarray(h.dataStart));
  if (h.bigEndian) byteswapInPlace(flat.data);
  const stride: number[] = [];
  let acc = 1;
  for (const s of h.shape) {
    stride.push(acc);
    acc *= s;
  }
  return materialize({ dtype, storage: flat.data, offset: 0, size: h.shape.slice(), stride });
}

/** Encodes a tensor as `.npy` bytes, identical to numpy's `np.save` output (bfloat16 is stored as '<u2' bits). */
export function encodeNpy(t: HostTensor): Uint8Array {
  if (!isHostTensor(t)) throw new TypeError('encodeNpy: not a valid HostTensor (dtype, shape and data length must agree)');
  const header = buildNpyHeader(DESCR[t.dtype], t.shape);
  const out = new Uint8Array(header.length + t.data.byteLength);
  out.set(header);
  out.set(tensorBytes(t), header.length);
  return out;
}

/** Reads a `.npy` file. */
export async function readNpy(path: string, options: DecodeNpyOptions = {}): Promise<HostTensor> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new WeightFileError(path, `cannot read: ${(e as Error).message}`, undefined, { cause: e });
  }
  return decodeNpy(bytes, path, options);
}

/** Writes a `.npy` file atomically; an existing file is an error unless `options.overwrite` is set. */
export async function writeNpy(path: string, t: HostTensor, options: WriteOptions = {}): Promise<void> {
  if (!isHostTensor(t)) throw new WeightFileError(path, 'not a valid HostTensor (dtype, shape and data length must agree)');
  await writeFileAtomic(path, [buildNpyHeader(DESCR[t.dtype], t.shape), tensorBytes(t)], options);
}
