import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mulberry32 } from '../../src/util/random.ts';
import { fixture } from '../support/fixtures.ts';
import { mulberry32Words, seededStream, seededUnit, streamSeed } from '../support/seeded.ts';

// The shared generator must give the same bits as scripts/fixtures/seeded.py (committed output in
// fixtures/clip-ref/seeded): random test weights are generated on both sides instead of being committed.
interface StreamsMeta {
  streams: { name: string; seed: number; n: number; scale?: number; offset?: number }[];
  stream_seed: Record<string, number>;
}

test('seeded streams are bit-identical to the numpy implementation', () => {
  const meta = JSON.parse(readFileSync(fixture('clip-ref', 'seeded', 'streams.json'), 'utf8')) as StreamsMeta;
  const b = readFileSync(fixture('clip-ref', 'seeded', 'streams.bin'));
  const ref = new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  let off = 0;
  for (const s of meta.streams) {
    const ours = s.scale === undefined ? seededUnit(s.seed, s.n) : seededStream(s.seed, s.n, s.scale, s.offset);
    const bits = new Uint32Array(ours.buffer);
    let differ = 0;
    for (let i = 0; i < s.n; i++) if (bits[i] !== ref[off + i]) differ++;
    assert.equal(differ, 0, `stream ${s.name}: ${differ} of ${s.n} values differ in their bits`);
    off += s.n;
  }
  assert.equal(off, ref.length, 'the committed file holds more values than the streams listed');
  for (const [key, seed] of Object.entries(meta.stream_seed)) {
    const i = key.indexOf(':');
    assert.equal(streamSeed(Number(key.slice(0, i)), key.slice(i + 1)), seed, `stream seed of ${key}`);
  }
});

test('the generator is mulberry32 of src/util/random.ts', () => {
  for (const seed of [0, 1, 0x7fffffff, 0xffffffff]) {
    const r = mulberry32(seed);
    const k = mulberry32Words(seed, 64);
    for (let i = 0; i < 64; i++) assert.equal(k[i] / 4294967296, r(), `seed ${seed}, value ${i}`);
  }
  const v = seededStream(5, 10000, 0.5, 1);
  assert.ok(v.every((x) => x >= 0.5 && x <= 1.5));
});
