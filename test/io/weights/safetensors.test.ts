import assert from 'node:assert/strict';
import fs, { readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeSafetensors, encodeSafetensors, openSafetensors, readSafetensors, writeSafetensors } from '../../../src/io/weights/safetensors.ts';
import type { HostTensor } from '../../../src/io/weights/tensor.ts';
import { assertRejectsWith, assertTensorMatches, fixture, readJson, withTempDir, type TensorRefJson } from '../helpers.ts';
import { allDtypes } from './safetensors-cases.ts';

interface SampleRef {
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, TensorRefJson>;
}
const SAMPLE = fixture('sample.safetensors');
const ref = readJson<SampleRef>(fixture('sample.ref.json'));

function u64le(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
function f32bytes(values: number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}
/** A safetensors file from a raw header string (unpadded) and data bytes. */
function craft(header: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.from(header, 'utf8');
  return Buffer.concat([u64le(h.length), h, data]);
}

test('reads a file written by the Python writer: values, dtypes, shapes, metadata, order', async () => {
  const f = await openSafetensors(SAMPLE);
  try {
    assert.deepEqual(f.keys(), ref.order);
    assert.deepEqual(f.metadata, ref.metadata);
    for (const [k, r] of Object.entries(ref.tensors)) assertTensorMatches(f.read(k), r, k);
    assert.deepEqual(f.info('encoder.weight').shape, [3, 4]);
    assert.equal(f.info('a.bf16').dtype, 'bfloat16');
    assert.equal(f.has('nope'), false);
    assert.throws(() => f.read('nope'), { message: `${SAMPLE}: nope: no such tensor in the file` });
  } finally {
    f.close();
  }
  const all = await readSafetensors(SAMPLE);
  assert.deepEqual([...all.keys()], ref.order);
});

test('read(key) reads only that tensor from disk', async () => {
  const f = await openSafetensors(SAMPLE);
  const original = fs.readSync;
  let bytesRead = 0;
  fs.readSync = ((...args: Parameters<typeof fs.readSync>) => {
    const n = original(...args);
    bytesRead += n;
    return n;
  }) as typeof fs.readSync;
  syncBuiltinESMExports();
  try {
    const t = f.read('encoder.weight');
    assert.equal(t.data.byteLength, 48);
    assert.equal(bytesRead, 48);
  } finally {
    fs.readSync = original;
    syncBuiltinESMExports();
    f.close();
  }
});

test('re-encoding the parsed Python file gives identical bytes (key order, header, padding)', async () => {
  const { tensors, metadata } = decodeSafetensors(readFileSync(SAMPLE), 'sample');
  assert.ok(Buffer.from(encodeSafetensors(tensors, metadata)).equals(readFileSync(SAMPLE)));
});

test('encoder output equals the reference library test vectors', () => {
  const t = (shape: number[]): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array([0, 1, 2, 3, 4, 5]) });
  const expect1 = Buffer.concat([u64le(64), Buffer.from('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'), f32bytes([0, 1, 2, 3, 4, 5])]);
  assert.ok(Buffer.from(encodeSafetensors({ 'attn.0': t([1, 2, 3]) })).equals(expect1));
  const expect2 = Buffer.concat([
    u64le(72),
    Buffer.from('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       '),
    f32bytes([0, 1, 2, 3, 4, 5]),
  ]);
  assert.ok(Buffer.from(encodeSafetensors(new Map([['attn0', t([1, 1, 2, 3])]]))).equals(expect2));
  assert.deepEqual([...encodeSafetensors({})], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  assert.ok(
    Buffer.from(encodeSafetensors({}, { framework: 'pt' })).equals(Buffer.concat([u64le(40), Buffer.from('{"__metadata__":{"framework":"pt"}}     ')])),
  );
});

test("written files round-trip and equal the Python writer's bytes for the same tensors", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'out.safetensors');
    const tensors = allDtypes();
    await writeSafetensors(path, tensors, { format: 'pt', ü: 'x"y' });
    const back = await readSafetensors(path);
    assert.equal(back.size, tensors.size);
    for (const [k, t] of tensors) assert.deepEqual(back.get(k), t, k);
    // scripts/fixtures/io_safetensors.py serialises the same tensors and metadata as the reference library does
    const py = readFileSync(fixture('written.safetensors'));
    const ours = readFileSync(path);
    assert.equal(ours.length, py.length, 'file length');
    assert.ok(ours.equals(py), 'bytes differ from the Python writer');
    assert.deepEqual(readdirSync(dir), ['out.safetensors']);
  });
});

test('writer refuses to overwrite unless asked, and stays atomic', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'w.safetensors');
    const a = { x: { dtype: 'float32', shape: [1], data: new Float32Array([1]) } } satisfies Record<string, HostTensor>;
    const b = { x: { dtype: 'float32', shape: [1], data: new Float32Array([2]) } } satisfies Record<string, HostTensor>;
    await writeSafetensors(path, a);
    await assertRejectsWith(() => writeSafetensors(path, b), `${path}: file already exists (pass { overwrite: true } to replace it)`);
    assert.deepEqual([...((await readSafetensors(path)).get('x')!.data as Float32Array)], [1]);
    await writeSafetensors(path, b, undefined, { overwrite: true });
    assert.deepEqual([...((await readSafetensors(path)).get('x')!.data as Float32Array)], [2]);
    assert.deepEqual(readdirSync(dir), ['w.safetensors'], 'temporary files left behind');
    const bad = { y: { dtype: 'float32', shape: [3], data: new Float32Array(2) } } satisfies Record<string, HostTensor>;
    await assertRejectsWith(() => writeSafetensors(join(dir, 'bad.safetensors'), bad), /bad\.safetensors: y: not a valid HostTensor/);
    await assertRejectsWith(() => writeSafetensors(join(dir, 'missing', 'x.safetensors'), a), /cannot create temporary file/);
    assert.deepEqual(readdirSync(dir), ['w.safetensors']);
  });
});

test('malformed files give errors naming the file and the key', async () => {
  await withTempDir(async (dir) => {
    const cases: [string, Buffer, string][] = [
      [
        'out_of_range',
        craft('{"w":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}}', f32bytes([1, 2, 3, 4])),
        'w: data_offsets [0, 1000] out of range: the data section has 16 bytes',
      ],
      ['unknown_dtype', craft('{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}', f32bytes([1])), "w: unknown dtype 'Q7'"],
      [
        'unsupported_dtype',
        craft('{"w":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}', f32bytes([1])),
        "w: unsupported dtype 'U32' (supported: BOOL, U8, I8, I16, F16, BF16, I32, F32, F64, I64)",
      ],
      [
        'overlap',
        craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32bytes([1, 2, 3])),
        "b: data_offsets [4, 12] overlap tensor 'a' (which ends at 8)",
      ],
      [
        'gap',
        craft('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', f32bytes([1, 2, 3])),
        'b: data_offsets [8, 12] leave a gap of 4 unused bytes before it',
      ],
      [
        'size_mismatch',
        craft('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32bytes([1, 2])),
        'w: shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8',
      ],
      ['bad_shape', craft('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', f32bytes([1])), "w: 'shape' must be an array of non-negative integers"],
      [
        'trailing',
        craft('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32bytes([1, 2])),
        'tensors cover 4 bytes but the data section has 8 bytes (truncated or trailing data)',
      ],
      ['huge_header', Buffer.concat([u64le(2 ** 40), Buffer.from('{}')]), 'safetensors header length 1099511627776 is too large (limit 100000000)'],
      ['bad_json', craft('{"w":'), /^safetensors header is not valid JSON: /],
      ['not_utf8', craft('{"\xff":1}').fill(0xff, 10, 11), 'safetensors header is not valid UTF-8'],
      ['not_object', craft('[1]'), "safetensors header does not start with '{'"],
      ['metadata', craft('{"__metadata__":{"a":1}}'), "__metadata__: value of 'a' is not a string"],
      ['tiny', Buffer.from([1, 2, 3]), 'not a safetensors file: 3 bytes is too small for the 8-byte header length'],
    ].map(([n, b, m]) => [n as string, b as Buffer, m as string]);
    for (const [name, bytes, msg] of cases) {
      const path = join(dir, `${name}.safetensors`);
      writeFileSync(path, bytes);
      await assertRejectsWith(
        () => readSafetensors(path),
        typeof msg === 'string' ? `${path}: ${msg}` : new RegExp(`^${path}: ${(msg as RegExp).source.slice(1)}`),
      );
    }
  });
});

test('truncated copies of a valid file fail with clear errors', async () => {
  const bytes = readFileSync(SAMPLE);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  await withTempDir(async (dir) => {
    const path = join(dir, 'cut.safetensors');
    const expectations: [number, RegExp][] = [
      [0, /: not a safetensors file: 0 bytes is too small/],
      [5, /: not a safetensors file: 5 bytes is too small/],
      [8, new RegExp(`: safetensors header length ${headerEnd - 8} exceeds the file size \\(8 bytes; truncated\\?\\)`)],
      [headerEnd - 1, new RegExp(`: safetensors header length ${headerEnd - 8} exceeds the file size \\(${headerEnd - 1} bytes`)],
      [headerEnd, /: steps: data_offsets \[0, 24\] out of range: the data section has 0 bytes$/],
      [bytes.length - 1, /: mask: data_offsets \[\d+, \d+\] out of range: the data section has \d+ bytes$/],
    ];
    for (const [cut, re] of expectations) {
      writeFileSync(path, bytes.subarray(0, cut));
      await assertRejectsWith(() => readSafetensors(path), new RegExp(`^${path}${re.source}`));
    }
  });
});

test('a file shrunk after opening fails on read with the key named', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 's.safetensors');
    writeFileSync(path, readFileSync(SAMPLE));
    const f = await openSafetensors(path);
    try {
      truncateSync(path, 200);
      assert.throws(
        () => f.read('mask'),
        (e: Error) => e.message.startsWith(`${path}: mask: unexpected end of file while reading tensor 'mask'`),
      );
    } finally {
      f.close();
    }
  });
});
