import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readNpy } from '../../../src/io/weights/npy.ts';
import { WeightFileError, isHostTensor, toFloat32, type HostTensor } from '../../../src/io/weights/tensor.ts';
import { fixture } from '../helpers.ts';

const ALL_BITS = Uint16Array.from({ length: 65536 }, (_, i) => i);

function sameFloat32Bits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  assert.equal(g.length, w.length);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) assert.fail(`${what}: pattern 0x${i.toString(16)} → 0x${g[i].toString(16)}, expected 0x${w[i].toString(16)}`);
  }
}

test('float16 → float32 matches numpy for all 65536 bit patterns (subnormals, inf, NaN payloads)', async () => {
  const want = await readNpy(fixture('float16_all_as_float32.npy'));
  assert.equal(want.dtype, 'float32');
  sameFloat32Bits(toFloat32({ dtype: 'float16', shape: [65536], data: ALL_BITS }), want.data as Float32Array, 'float16');
});

test('bfloat16 → float32 matches torch for all 65536 bit patterns', async () => {
  const want = await readNpy(fixture('bfloat16_all_as_float32.npy'));
  sameFloat32Bits(toFloat32({ dtype: 'bfloat16', shape: [65536], data: ALL_BITS }), want.data as Float32Array, 'bfloat16');
});

test('float64 and integer conversions round to nearest float32 (ties to even)', () => {
  const f64 = toFloat32({ dtype: 'float64', shape: [4], data: new Float64Array([0.1, 1 + 2 ** -24, 1 + 3 * 2 ** -24, 1e300]) });
  assert.deepEqual([...f64], [Math.fround(0.1), 1, 1 + 2 ** -22, Infinity]);
  // just above the midpoint of two float32 neighbours (spacing 2^37); going through float64 would round it
  // to the midpoint and then down to 2^60
  const big = 2n ** 60n + 2n ** 36n + 1n;
  const i64 = toFloat32({ dtype: 'int64', shape: [4], data: new BigInt64Array([-3n, 16777217n, big, -(2n ** 63n)]) });
  assert.deepEqual([...i64], [-3, 16777216, 2 ** 60 + 2 ** 37, -(2 ** 63)]);
  const i32 = toFloat32({ dtype: 'int32', shape: [2], data: new Int32Array([16777219, -7]) });
  assert.deepEqual([...i32], [16777220, -7]);
  assert.deepEqual([...toFloat32({ dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) })], [1, 0]);
  assert.deepEqual([...toFloat32({ dtype: 'uint8', shape: [1], data: new Uint8Array([255]) })], [255]);
  assert.deepEqual([...toFloat32({ dtype: 'int8', shape: [1], data: new Int8Array([-128]) })], [-128]);
});

test('toFloat32 returns float32 data as is', () => {
  const data = new Float32Array([1, 2]);
  assert.equal(toFloat32({ dtype: 'float32', shape: [2], data }), data);
});

test('WeightFileError names the file and key', () => {
  const e = new WeightFileError('model.pth', 'bad thing', 'layer.weight');
  assert.equal(e.message, 'model.pth: layer.weight: bad thing');
  assert.equal(e.file, 'model.pth');
  assert.equal(e.key, 'layer.weight');
  assert.equal(e.detail, 'bad thing');
  assert.ok(e instanceof Error);
  assert.equal(new WeightFileError('a.bin', 'oops').message, 'a.bin: oops');
});

test('isHostTensor checks dtype, data type and length', () => {
  const ok: HostTensor = { dtype: 'float16', shape: [2, 1], data: new Uint16Array(2) };
  assert.equal(isHostTensor(ok), true);
  assert.equal(isHostTensor({ ...ok, data: new Uint16Array(3) }), false);
  assert.equal(isHostTensor({ ...ok, data: new Float32Array(2) }), false);
  assert.equal(isHostTensor({ ...ok, dtype: 'complex64' }), false);
  assert.equal(isHostTensor({ ...ok, shape: [-2, -1] }), false);
});
