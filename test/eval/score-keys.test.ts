import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32Bits, float32BitsToKey, keyToFloat32Bits } from '../../src/eval/score-keys.ts';
import { prng } from './reference.ts';

const SPECIAL = [
  -Infinity,
  -3.4028234663852886e38,
  -1,
  -1.1754943508222875e-38,
  -1e-45,
  -0,
  0,
  1e-45,
  1.1754943508222875e-38,
  1,
  3.4028234663852886e38,
  Infinity,
];

test('keys are ordered like the float32 values, with -0 and +0 equal', () => {
  const rand = prng(3);
  const values = new Float32Array(20_000);
  for (let i = 0; i < values.length; i++) {
    values[i] = i < SPECIAL.length ? SPECIAL[i] : (rand() - 0.5) * 2 ** Math.floor(rand() * 200 - 100);
  }
  const bits = float32Bits(values);
  for (let i = 0; i < 50_000; i++) {
    // Every pair of special values first, then random pairs.
    const pairs = i < SPECIAL.length ** 2;
    const a = pairs ? Math.floor(i / SPECIAL.length) : Math.floor(rand() * values.length);
    const b = pairs ? i % SPECIAL.length : Math.floor(rand() * values.length);
    const [ka, kb] = [float32BitsToKey(bits[a]), float32BitsToKey(bits[b])];
    assert.equal(Math.sign(ka - kb), Math.sign(values[a] - values[b]) || 0, `${values[a]} vs ${values[b]}`);
  }
  assert.equal(float32BitsToKey(float32Bits(new Float32Array([-0]))[0]), float32BitsToKey(0));
});

test('keys round-trip to the same float32 (-0 comes back as +0)', () => {
  const values = Float32Array.from(SPECIAL);
  const bits = float32Bits(values);
  const back = new Float32Array(values.length);
  const backBits = float32Bits(back);
  for (let i = 0; i < values.length; i++) backBits[i] = keyToFloat32Bits(float32BitsToKey(bits[i]));
  assert.deepEqual(
    [...back],
    [...values].map((v) => (Object.is(v, -0) ? 0 : v)),
  );
});
