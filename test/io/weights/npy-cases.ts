// The arrays test/io/weights/npy.test.ts writes (scripts/fixtures/io_npy.py builds the same ones with numpy).
import type { HostTensor } from '../../../src/io/weights/tensor.ts';

/** numpy dtype code (descr without the byte-order character) -> our dtype; bfloat16 travels as uint16 bits. */
export const DTYPE_OF: Record<string, string> = {
  f4: 'float32',
  f8: 'float64',
  f2: 'float16',
  i8: 'int64',
  i4: 'int32',
  i2: 'int16',
  i1: 'int8',
  u1: 'uint8',
  b1: 'bool',
  u2: 'bfloat16',
};

export function tensors(): Record<string, HostTensor> {
  return {
    f32: { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, -2.5, 3e-40, Infinity, NaN, -0]) },
    f64: { dtype: 'float64', shape: [3], data: new Float64Array([Math.PI, -1e300, 5e-324]) },
    f16: { dtype: 'float16', shape: [2, 2], data: new Uint16Array([0x3c00, 0x8001, 0x7c00, 0x7e00]) },
    bf16: { dtype: 'bfloat16', shape: [2], data: new Uint16Array([0x3fc0, 0xff80]) },
    i64: { dtype: 'int64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
    i32: { dtype: 'int32', shape: [1, 1, 2], data: new Int32Array([-(2 ** 31), 7]) },
    i16: { dtype: 'int16', shape: [2], data: new Int16Array([-32768, 32767]) },
    i8: { dtype: 'int8', shape: [2], data: new Int8Array([-128, 127]) },
    u8: { dtype: 'uint8', shape: [3], data: new Uint8Array([0, 128, 255]) },
    bool: { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) },
    scalar: { dtype: 'float32', shape: [], data: new Float32Array([2.5]) },
    empty: { dtype: 'float32', shape: [0, 7], data: new Float32Array(0) },
    long: { dtype: 'uint8', shape: [123456], data: new Uint8Array(123456).fill(9) },
  };
}
