import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isHostTensor, type HostTensor } from '../../../src/io/weights/tensor.ts';
import {
  flattenStateDict,
  isTorchScriptObject,
  readTorchFile,
  readTorchFileWithFormat,
  readTorchStateDict,
  type TorchValue,
} from '../../../src/io/weights/torch-file.ts';
import { assertRejectsWith, assertTensorMatches, fixture, readJson, withTempDir, type TensorRefJson } from '../helpers.ts';

const STATE = fixture('torch_state_dict.pt');
const LEGACY = fixture('torch_state_dict_legacy.pt');
const stateRef = readJson<Record<string, TensorRefJson>>(fixture('torch_state_dict.ref.json'));
const scriptRef = readJson<Record<'scripted' | 'traced', [string, TensorRefJson][]>>(fixture('torchscript.ref.json'));
const MARKER = '/tmp/mvfa-io-fixture-pwned';

function get(v: TorchValue, ...path: string[]): TorchValue {
  let cur = v;
  for (const k of path) {
    assert.ok(cur instanceof Map, `expected a dict at ${k}`);
    cur = cur.get(k) as TorchValue;
  }
  return cur;
}

for (const [name, path, format] of [
  ['zip', STATE, 'zip'],
  ['legacy', LEGACY, 'legacy'],
] as const) {
  test(`torch.save (${name}): every tensor equals torch.load's, bit for bit, in order`, async () => {
    const sd = await readTorchStateDict(path);
    assert.deepEqual([...sd.keys()], Object.keys(stateRef));
    for (const [k, r] of Object.entries(stateRef)) assertTensorMatches(sd.get(k), r, k);
    // views: the transposed view is the transpose of the base
    const base = sd.get('view.base')!.data as Float32Array;
    const t = sd.get('view.t')!.data as Float32Array;
    assert.equal(t[1 * 4 + 2], base[2 * 6 + 1]);
    assert.equal(sd.get('tied_a'), sd.get('tied_b'), 'the same tensor object is shared');
    assert.equal((await readTorchFileWithFormat(path)).format, format);
  });

  test(`torch.save (${name}): nested structure and non-tensor values`, async () => {
    const obj = await readTorchFile(path);
    assert.ok(obj instanceof Map);
    assert.equal(get(obj, 'meta', 'epoch'), 3);
    assert.equal(get(obj, 'meta', 'name'), 'demo');
    assert.equal(get(obj, 'meta', 'lr'), 0.001);
    assert.deepEqual(get(obj, 'meta', 'ints'), [1, 2, 3]);
    assert.equal(get(obj, 'meta', 'flag'), true);
    assert.equal(get(obj, 'meta', 'none'), null);
    const seg = get(obj, 'nested', 'seg_adapters');
    assert.ok(seg instanceof Map);
    assert.deepEqual([...seg.keys()], ['0.fc1.weight', '0.fc2.weight', '1.fc1.weight', '1.fc2.weight']);
    assert.ok(isHostTensor(seg.get('0.fc1.weight')));
    const det = flattenStateDict(get(obj, 'nested'), '/');
    assert.deepEqual([...det.keys()].slice(-2), ['det_adapters/0.fc1.weight', 'det_adapters/0.fc2.weight']);
  });
}

for (const kind of ['scripted', 'traced'] as const) {
  test(`TorchScript (${kind}): flat names, order and values equal module.state_dict()`, async () => {
    const path = fixture(`torchscript_${kind}.pt`);
    const sd = await readTorchStateDict(path);
    assert.deepEqual(
      [...sd.keys()],
      scriptRef[kind].map(([k]) => k),
    );
    for (const [k, r] of scriptRef[kind]) assertTensorMatches(sd.get(k), r, k);
    assert.equal((await readTorchFileWithFormat(path)).format, 'torchscript');
  });
}

test('TorchScript: module tree objects are inert data with attributes and declarations', async () => {
  const root = await readTorchFile(fixture('torchscript_scripted.pt'));
  assert.ok(isTorchScriptObject(root));
  assert.equal(root.className, '__torch__.Net');
  assert.equal(root.isModule, true);
  assert.deepEqual(root.parameters, ['proj']);
  assert.deepEqual(root.buffers, ['ids', 'half_buf']);
  assert.equal(root.attributes.get('training'), false);
  const blocks = root.attributes.get('blocks');
  assert.ok(isTorchScriptObject(blocks));
  assert.equal(blocks.className, '__torch__.torch.nn.modules.container.ModuleList');
  const block0 = blocks.attributes.get('0');
  assert.ok(isTorchScriptObject(block0));
  // a plain tensor attribute is loaded but is not part of the state dict
  const scale = block0.attributes.get('scale') as HostTensor;
  assert.deepEqual([...(scale.data as Float32Array)], [1, 1]);
  assert.equal(block0.attributes.get('k'), 3);
  assert.ok(!(await readTorchStateDict(fixture('torchscript_scripted.pt'))).has('blocks.0.scale'));
});

test('TorchScript classes are refused unless enabled', async () => {
  await assertRejectsWith(
    () => readTorchFile(fixture('torchscript_scripted.pt'), { torchScript: false }),
    `${fixture('torchscript_scripted.pt')}: refusing to load global '__torch__.Net' (only tensor data is allowed)`,
  );
});

test('malicious pickles are refused, naming the global, and never run', async () => {
  rmSync(MARKER, { force: true });
  const cases: [string, string][] = [
    ['malicious_system.pt', 'posix.system'],
    ['malicious_system.pkl', 'posix.system'],
    ['malicious_eval_p4.pkl', 'builtins.eval'],
    ['malicious_popen.pkl', 'subprocess.Popen'],
  ];
  for (const [file, global] of cases) {
    const path = fixture(file);
    await assertRejectsWith(() => readTorchFile(path), `${path}: refusing to load global '${global}' (only tensor data is allowed)`);
    await assertRejectsWith(() => readTorchStateDict(path), `${path}: refusing to load global '${global}' (only tensor data is allowed)`);
  }
  assert.equal(existsSync(MARKER), false, 'the payload ran');
});

test('truncated zip and legacy files fail with errors naming the file', async () => {
  await withTempDir(async (dir) => {
    for (const src of [STATE, LEGACY, fixture('torchscript_traced.pt')]) {
      const bytes = readFileSync(src);
      for (const frac of [0, 0.01, 0.3, 0.6, 0.95, 0.999]) {
        const cut = Math.floor(bytes.length * frac);
        const path = join(dir, `cut_${cut}.pt`);
        writeFileSync(path, bytes.subarray(0, cut));
        await assert.rejects(
          () => readTorchStateDict(path),
          (e: Error) => {
            assert.ok(e.message.startsWith(`${path}: `), e.message);
            return true;
          },
          `${src} cut at ${cut}`,
        );
      }
    }
    const path = join(dir, 'cut.pt');
    writeFileSync(path, readFileSync(LEGACY).subarray(0, readFileSync(LEGACY).length - 10));
    await assertRejectsWith(() => readTorchStateDict(path), /^.*cut\.pt: storage \d+: storage data runs past the end of the file \(truncated\?\)$/);
  });
});

test('a storage entry with the wrong size is reported with its entry name', async () => {
  const path = fixture('bad_storage_size.pt');
  await assertRejectsWith(() => readTorchFile(path), `${path}: bad_storage_size/data/0: storage of 4 float32 elements needs 16 bytes but the entry has 8`);
  await withTempDir(async (dir) => {
    const other = join(dir, 'x.pt');
    writeFileSync(other, Buffer.from('not a torch file at all'));
    await assertRejectsWith(() => readTorchFile(other), `${other}: not a PyTorch file (neither a zip archive nor a pickle)`);
  });
});

test('a central directory claiming a huge storage is rejected before anything is allocated', async () => {
  const bytes = Buffer.from(readFileSync(fixture('bad_storage_size.pt')));
  const name = Buffer.from('bad_storage_size/data/0');
  let patched = 0;
  for (let at = bytes.indexOf(name); at >= 0; at = bytes.indexOf(name, at + 1)) {
    const cd = at - 46; // central directory header: signature, ..., sizes at +20/+24, name at +46
    if (cd >= 0 && bytes.readUInt32LE(cd) === 0x02014b50) {
      bytes.writeUInt32LE(0x7fffffff, cd + 20);
      bytes.writeUInt32LE(0x7fffffff, cd + 24);
      patched++;
    }
  }
  assert.equal(patched, 1);
  await withTempDir(async (dir) => {
    const path = join(dir, 'huge.pt');
    writeFileSync(path, bytes);
    await assertRejectsWith(
      () => readTorchStateDict(path),
      new RegExp(
        `^${path}: bad_storage_size/data/0: entry data \\(2147483647 bytes at offset \\d+\\) runs past the end of the file \\(\\d+ bytes; truncated\\?\\)$`,
      ),
    );
  });
});

test('big-endian archives (byteorder entry) are converted', async () => {
  const sd = await readTorchStateDict(fixture('big_endian.pt'));
  assert.deepEqual(sd.get('w'), { dtype: 'float32', shape: [3, 2], data: new Float32Array([0, 3, 1, 4, 2, 5]) });
  assert.deepEqual(sd.get('i'), { dtype: 'int64', shape: [2], data: new BigInt64Array([1n, -2n]) });
});

test('flattenStateDict: lists, non-string keys, custom separator, duplicates and cycles', () => {
  const t = (v: number): HostTensor => ({ dtype: 'float32', shape: [1], data: new Float32Array([v]) });
  const obj: TorchValue = new Map<TorchValue, TorchValue>([
    [
      'layers',
      [
        t(1),
        new Map<TorchValue, TorchValue>([
          [0, t(2)],
          ['x', 'skip me'],
        ]),
      ],
    ],
    ['top', t(3)],
  ]);
  assert.deepEqual([...flattenStateDict(obj, '/').keys()], ['layers/0', 'layers/1/0', 'top']);
  assert.throws(
    () =>
      flattenStateDict(
        new Map<TorchValue, TorchValue>([
          ['a.b', t(1)],
          ['a', new Map([['b', t(2)]])],
        ]),
      ),
    /duplicate tensor name 'a.b'/,
  );
  const cyc: TorchValue[] = [];
  cyc.push(cyc);
  assert.throws(() => flattenStateDict(cyc), /cyclic object graph/);
});
