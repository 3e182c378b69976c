// Host-side tensor type shared by every weight/array reader and writer, plus dtype helpers.
import { type FileRegion } from '../../graph/graph.ts';
import { numel } from '../../graph/types.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32, int64ToFloat32 } from './half.ts';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/**
 * A dense, C-contiguous tensor in host memory. `float16` and `bfloat16` hold their raw bit patterns in a
 * Uint16Array; `bool` holds 0/1 bytes in a Uint8Array.
 */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
  /** Where `data`'s bytes lie in the file it came from, when they are stored there as they are (little-endian). */
  readonly file?: FileRegion;
}

export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

const BYTE_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Error raised for unreadable, malformed or refused weight/array files. */
export class WeightFileError extends Error {
  /** Exit code of the command line: a usage error (the weights file given is not usable). */
  readonly exitCode = 2;
  readonly file: string;
  readonly key: string | undefined;
  /** What is wrong, without the file and key prefix. */
  readonly detail: string;
  constructor(file: string, what: string, key?: string, options?: { cause?: unknown }) {
    super(key === undefined ? `${file}: ${what}` : `${file}: ${key}: ${what}`, options);
    this.name = 'WeightFileError';
    this.file = file;
    this.key = key;
    this.detail = what;
  }
}

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && (DTYPES as readonly string[]).includes(s);
}

export function dtypeByteSize(dtype: DType): number {
  return BYTE_SIZE[dtype];
}

/** Allocates zeroed storage of `numel` elements for `dtype`. */
export function allocData(dtype: DType, numel: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(numel);
    case 'float64':
      return new Float64Array(numel);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(numel);
    case 'int64':
      return new BigInt64Array(numel);
    case 'int32':
      return new Int32Array(numel);
    case 'int16':
      return new Int16Array(numel);
    case 'int8':
      return new Int8Array(numel);
    case 'uint8':
    case 'bool':
      return new Uint8Array(numel);
  }
}

/** A typed-array view of `dtype` over an ArrayBuffer region (offset must be aligned to the element size). */
export function viewData(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, numel: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, numel);
    case 'float64':
      return new Float64Array(buffer, byteOffset, numel);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer, byteOffset, numel);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, numel);
    case 'int32':
      return new Int32Array(buffer, byteOffset, numel);
    case 'int16':
      return new Int16Array(buffer, byteOffset, numel);
    case 'int8':
      return new Int8Array(buffer, byteOffset, numel);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, byteOffset, numel);
  }
}

/** The raw little-endian bytes of a tensor's data (a view, no copy). */
export function tensorBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Copies little-endian bytes into a freshly allocated (hence aligned) tensor of the given dtype/shape. */
export function tensorFromBytes(dtype: DType, shape: number[], bytes: Uint8Array): HostTensor {
  const n = numel(shape);
  if (bytes.byteLength !== n * BYTE_SIZE[dtype]) {
    throw new RangeError(`expected ${n * BYTE_SIZE[dtype]} bytes for ${dtype}[${shape.join(', ')}], got ${bytes.byteLength}`);
  }
  const data = allocData(dtype, n);
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(bytes);
  return { dtype, shape, data };
}

const DATA_CTORS: Record<DType, new (...args: never[]) => TensorData> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/** True when `v` is a HostTensor whose data array matches its dtype and shape. */
export function isHostTensor(v: unknown): v is HostTensor {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Partial<HostTensor>;
  if (!isDType(t.dtype) || !Array.isArray(t.shape) || !ArrayBuffer.isView(t.data)) return false;
  if (!(t.data instanceof DATA_CTORS[t.dtype])) return false;
  return t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) && t.data.length === numel(t.shape);
}

/**
 * Converts any tensor to float32 values: float16 (subnormals, infinities and NaN included) and bfloat16 are
 * decoded exactly, float64 and integers are rounded to the nearest float32 (ties to even), bool becomes 0/1.
 * Returns the tensor's own array (not a copy) when it already is float32.
 */
export function toFloat32(t: HostTensor): Float32Array {
  const n = t.data.length;
  switch (t.dtype) {
    case 'float32':
      return t.data as Float32Array;
    case 'float16':
      return float16BitsToFloat32(t.data as Uint16Array);
    case 'bfloat16':
      return bfloat16BitsToFloat32(t.data as Uint16Array);
    case 'int64': {
      const src = t.data as BigInt64Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = int64ToFloat32(src[i]);
      return out;
    }
    default: {
      const src = t.data as Exclude<TensorData, BigInt64Array>;
      const out = new Float32Array(n);
      out.set(src);
      return out;
    }
  }
}

/** Reverses the byte order of every element in place (big-endian ↔ little-endian). */
export function byteswapInPlace(data: TensorData): void {
  const size = data.BYTES_PER_ELEMENT;
  if (size === 1) return;
  const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}
