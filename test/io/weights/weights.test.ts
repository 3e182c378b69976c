import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadWeights, sniffWeightFormat } from '../../../src/io/weights/weights.ts';
import { assertRejectsWith, assertTensorMatches, fixture, readJson, withTempDir, type TensorRefJson } from '../helpers.ts';

test('loadWeights picks the reader from the leading bytes, whatever the extension', async () => {
  const stRef = readJson<{ tensors: Record<string, TensorRefJson> }>(fixture('sample.ref.json')).tensors;
  const ptRef = readJson<Record<string, TensorRefJson>>(fixture('torch_state_dict.ref.json'));
  await withTempDir(async (dir) => {
    const cases: [string, string, Record<string, TensorRefJson>][] = [
      [fixture('sample.safetensors'), 'weights.bin', stRef],
      [fixture('torch_state_dict.pt'), 'weights.safetensors', ptRef],
      [fixture('torch_state_dict_legacy.pt'), 'weights', ptRef],
    ];
    for (const [src, name, ref] of cases) {
      const path = join(dir, name);
      copyFileSync(src, path);
      const w = await loadWeights(path);
      assert.deepEqual([...w.keys()].sort(), Object.keys(ref).sort(), name);
      for (const [k, r] of Object.entries(ref)) assertTensorMatches(w.get(k), r, `${name}: ${k}`);
    }
  });
  const script = await loadWeights(fixture('torchscript_traced.pt'));
  assert.ok(script.has('blocks.1.ln.bias'));
});

test('unknown formats and refused content give errors naming the file', async () => {
  await withTempDir(async (dir) => {
    const junk = join(dir, 'weights.dat');
    writeFileSync(junk, Buffer.from('hello world, not weights'));
    await assertRejectsWith(
      () => loadWeights(junk),
      `${junk}: unknown weight file format (first bytes 68656c6c6f20776f); expected safetensors or a PyTorch file (zip archive or pickle)`,
    );
    const empty = join(dir, 'empty.dat');
    writeFileSync(empty, Buffer.alloc(0));
    await assertRejectsWith(() => loadWeights(empty), /empty\.dat: unknown weight file format \(first bytes none: empty file\)/);
    // the extension chooses which reader explains the problem
    const st = join(dir, 'bad.safetensors');
    writeFileSync(st, Buffer.from([1, 2, 3]));
    await assertRejectsWith(() => loadWeights(st), `${st}: not a safetensors file: 3 bytes is too small for the 8-byte header length`);
    const pt = join(dir, 'bad.pt');
    writeFileSync(pt, Buffer.from('garbage!'));
    await assertRejectsWith(() => loadWeights(pt), `${pt}: not a PyTorch file (neither a zip archive nor a pickle)`);
    await assertRejectsWith(() => loadWeights(join(dir, 'missing.pt')), /missing\.pt: cannot open: ENOENT/);
    await assertRejectsWith(() => loadWeights(fixture('npy', 'f4.npy')), /f4\.npy: this is a single \.npy array, not a weight file/);
  });
  const evil = fixture('malicious_system.pkl');
  await assertRejectsWith(() => loadWeights(evil), `${evil}: refusing to load global 'posix.system' (only tensor data is allowed)`);
});

test('sniffWeightFormat', () => {
  assert.equal(sniffWeightFormat(Buffer.from('PK\x03\x04', 'latin1')), 'torch-zip');
  assert.equal(sniffWeightFormat(Buffer.from([0x80, 2, 0x8a])), 'torch-pickle');
  assert.equal(sniffWeightFormat(Buffer.from('\x93NUMPY', 'latin1')), 'npy');
  assert.equal(sniffWeightFormat(Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 0x7b])), 'safetensors');
  assert.equal(sniffWeightFormat(Buffer.from([8, 0, 0, 0, 0, 0, 0, 1, 0x7b])), 'unknown');
});
