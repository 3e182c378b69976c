import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../../src/io/weights/npy.ts';
import { tensorBytes } from '../../../src/io/weights/tensor.ts';
import { assertRejectsWith, fixture, readJson, withTempDir } from '../helpers.ts';
import { DTYPE_OF, tensors } from './npy-cases.ts';

interface NpyRef {
  descr: string;
  shape: number[];
  le_b64: string;
}
const ref = readJson<Record<string, NpyRef>>(fixture('npy', 'npy.ref.json'));

test('reads numpy-written files of every dtype, big-endian, Fortran order, and header versions 1–3', async () => {
  assert.ok(Object.keys(ref).length >= 18);
  for (const [name, r] of Object.entries(ref)) {
    const t = await readNpy(fixture('npy', `${name}.npy`));
    assert.equal(t.dtype, DTYPE_OF[r.descr.slice(1)], name);
    assert.deepEqual(t.shape, r.shape, name);
    assert.ok(Buffer.from(tensorBytes(t)).equals(Buffer.from(r.le_b64, 'base64')), `${name}: bytes`);
  }
  const u2 = await readNpy(fixture('npy', 'u2.npy'), { uint16As: 'float16' });
  assert.equal(u2.dtype, 'float16');
});

test('written files match np.save byte for byte (committed np.save output of the same arrays)', async () => {
  const npsave = readJson<Record<string, { descr: string; shape: number[]; b64: string; npsave_b64: string }>>(fixture('npy', 'written.json.gz'));
  const all = tensors();
  assert.deepEqual(Object.keys(npsave).sort(), Object.keys(all).sort());
  await withTempDir(async (dir) => {
    const paths: string[] = [];
    for (const [name, t] of Object.entries(all)) {
      const p = join(dir, `${name}.npy`);
      await writeNpy(p, t);
      paths.push(p);
      assert.deepEqual(await readNpy(p), t, `${name}: round trip`);
      const r = npsave[name];
      assert.equal(DTYPE_OF[r.descr.slice(1)], t.dtype, name);
      assert.deepEqual(r.shape, t.shape, name);
      assert.ok(Buffer.from(r.b64, 'base64').equals(Buffer.from(tensorBytes(t))), `${name}: numpy's array has different values`);
      assert.ok(Buffer.from(r.npsave_b64, 'base64').equals(readFileSync(p)), `${name}: bytes differ from np.save`);
    }
    await assertRejectsWith(() => writeNpy(paths[0], all.f32), `${paths[0]}: file already exists (pass { overwrite: true } to replace it)`);
    await writeNpy(paths[0], all.f64, { overwrite: true });
    assert.equal((await readNpy(paths[0])).dtype, 'float64');
    assert.equal(readdirSync(dir).length, paths.length, 'temporary files left behind');
  });
});

test('encodeNpy / decodeNpy round trip on buffers', () => {
  for (const [name, t] of Object.entries(tensors())) assert.deepEqual(decodeNpy(encodeNpy(t), name), t, name);
});

test('malformed .npy files give clear errors naming the file', async () => {
  const good = encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(4) });
  const header = (dict: string): Buffer => {
    const body = Buffer.from(`${dict}\n`, 'latin1');
    const b = Buffer.alloc(10);
    Buffer.from('\x93NUMPY\x01\x00', 'latin1').copy(b);
    b.writeUInt16LE(body.length, 8);
    return Buffer.concat([b, body]);
  };
  const cases: [Uint8Array, string | RegExp][] = [
    [good.subarray(0, 5), 'not a .npy file (missing \\x93NUMPY magic)'],
    [good.subarray(0, 40), /^\.npy header length 118 runs past the end of the file \(40 bytes; truncated\?\)$/],
    [good.subarray(0, good.length - 3), 'shape (2, 2) needs 16 data bytes but the file has 13 (truncated?)'],
    [Buffer.concat([good, Buffer.alloc(4)]), 'shape (2, 2) needs 16 data bytes but the file has 20'],
    [header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"), "unsupported dtype '<c8' (supported: f4, f8, f2, i8, i4, i2, i1, u1, b1, u2)"],
    [
      header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"),
      'unsupported dtype descr [["a","<f4"]] (structured arrays are not supported)',
    ],
    [header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "'shape' must be a tuple of non-negative integers"],
    [header("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }"), "'fortran_order' must be True or False"],
    [header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)"), /^malformed \.npy header: expected ',' or '}' at character \d+ of the header$/],
    [
      header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }"),
      'shape (99999999999) needs 399999999996 data bytes but the file has 0 (truncated?)',
    ],
    [Buffer.from('\x93NUMPY\x04\x00\x00\x00', 'latin1'), 'unsupported .npy format version 4.0'],
  ];
  for (const [bytes, msg] of cases) {
    assert.throws(
      () => decodeNpy(bytes, 'arr.npy'),
      (e: Error) => (typeof msg === 'string' ? e.message === `arr.npy: ${msg}` : msg.test(e.message.replace(/^arr\.npy: /, ''))) || assert.fail(e.message),
    );
  }
  await withTempDir(async (dir) => {
    const p = join(dir, 'cut.npy');
    writeFileSync(p, good.subarray(0, 70));
    await assertRejectsWith(() => readNpy(p), /cut\.npy: \.npy header length 118 runs past the end of the file/);
  });
});
