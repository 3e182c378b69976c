// The tensors test/io/weights/safetensors.test.ts writes (scripts/fixtures/io_safetensors.py serialises the same ones).
import type { HostTensor } from '../../../src/io/weights/tensor.ts';

export function allDtypes(): Map<string, HostTensor> {
  return new Map<string, HostTensor>([
    ['w.f32', { dtype: 'float32', shape: [2, 3], data: new Float32Array([1.5, -2, 3e-39, Infinity, -0, 7]) }],
    ['w.f16', { dtype: 'float16', shape: [3], data: new Uint16Array([0x3c00, 0x7c00, 0x0001]) }],
    ['w.bf16', { dtype: 'bfloat16', shape: [2], data: new Uint16Array([0x3fc0, 0xff80]) }],
    ['w.f64', { dtype: 'float64', shape: [1], data: new Float64Array([Math.PI]) }],
    ['step', { dtype: 'int64', shape: [], data: new BigInt64Array([-(2n ** 63n)]) }],
    ['i32', { dtype: 'int32', shape: [2], data: new Int32Array([-1, 2 ** 31 - 1]) }],
    ['i16', { dtype: 'int16', shape: [1], data: new Int16Array([-300]) }],
    ['i8', { dtype: 'int8', shape: [2], data: new Int8Array([-128, 127]) }],
    ['u8', { dtype: 'uint8', shape: [2, 1], data: new Uint8Array([0, 255]) }],
    ['mask', { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['none', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
  ]);
}
