// Materialises strided views of a storage into dense, C-contiguous HostTensors.
import { allocData, dtypeByteSize, type DType, type HostTensor, type TensorData } from './tensor.ts';

export interface StridedView {
  dtype: DType;
  /** The whole storage, as a typed array of `dtype`. */
  storage: TensorData;
  /** Offset of the first element, in elements. */
  offset: number;
  size: number[];
  stride: number[];
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expected) return false;
    expected *= size[i];
  }
  return true;
}

/** Same-width unsigned view of a typed array, so copies move bit patterns unchanged (NaN payloads included). */
function bitsView(a: TensorData, wordBytes: 1 | 2 | 4): Uint8Array | Uint16Array | Uint32Array {
  const n = a.byteLength / wordBytes;
  if (wordBytes === 1) return new Uint8Array(a.buffer, a.byteOffset, n);
  if (wordBytes === 2) return new Uint16Array(a.buffer, a.byteOffset, n);
  return new Uint32Array(a.buffer, a.byteOffset, n);
}

/** Bytes `materialize` allocates for the view: none when it can share the storage (a contiguous view). */
export function materializedBytes(v: StridedView): number {
  if (isContiguous(v.size, v.stride)) return 0;
  return v.size.reduce((a, b) => a * b, 1) * dtypeByteSize(v.dtype);
}

/**
 * A dense tensor of the view. A contiguous view shares the storage's memory (a subarray, as PyTorch views
 * share their storage); any other view is copied into a new contiguous array.
 */
export function materialize(v: StridedView): HostTensor {
  const shape = v.size.slice();
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return { dtype: v.dtype, shape, data: allocData(v.dtype, 0) };
  if (isContiguous(v.size, v.stride)) {
    if (v.offset === 0 && numel === v.storage.length) return { dtype: v.dtype, shape, data: v.storage };
    return { dtype: v.dtype, shape, data: v.storage.subarray(v.offset, v.offset + numel) as TensorData };
  }
  const esize = dtypeByteSize(v.dtype);
  // 8-byte elements move as two 32-bit words
  const words = esize === 8 ? 2 : 1;
  const wordBytes = (esize === 8 ? 4 : esize) as 1 | 2 | 4;
  const out = allocData(v.dtype, numel);
  const src = bitsView(v.storage, wordBytes);
  const dst = bitsView(out, wordBytes);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  const inner = shape[nd - 1];
  const innerStride = v.stride[nd - 1] * words;
  let base = v.offset * words;
  let k = 0;
  for (;;) {
    let p = base;
    if (words === 1) {
      for (let i = 0; i < inner; i++, p += innerStride) dst[k++] = src[p];
    } else {
      for (let i = 0; i < inner; i++, p += innerStride) {
        dst[k++] = src[p];
        dst[k++] = src[p + 1];
      }
    }
    // odometer over the outer dimensions
    let d = nd - 2;
    for (; d >= 0; d--) {
      idx[d]++;
      base += v.stride[d] * words;
      if (idx[d] < shape[d]) break;
      base -= v.stride[d] * words * shape[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return { dtype: v.dtype, shape, data: out };
}
