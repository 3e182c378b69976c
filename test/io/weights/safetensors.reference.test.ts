// Live check (reference suite only, `npm run test:reference`): the Python reader (scripts/fixtures/io_safetensors.py,
// the reference library's rules) validates the files writeSafetensors writes and sees the same tensors, and its writer
// would produce the same bytes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeSafetensors } from '../../../src/io/weights/safetensors.ts';
import { runPython } from '../../support/python.ts';
import { SCRIPTS, assertTensorMatches, withTempDir, type TensorRefJson } from '../helpers.ts';
import { allDtypes } from './safetensors-cases.ts';

test('written files are read identically by the Python reader', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'out.safetensors');
    const tensors = allDtypes();
    await writeSafetensors(path, tensors, { format: 'pt', ü: 'x"y' });
    const py = JSON.parse(runPython(join(SCRIPTS, 'io_safetensors.py'), ['check', path])) as {
      metadata: Record<string, string>;
      tensors: Record<string, TensorRefJson>;
      rewrite_identical: boolean;
    };
    assert.deepEqual(py.metadata, { format: 'pt', ü: 'x"y' });
    assert.equal(py.rewrite_identical, true, 'python writer would produce different bytes');
    assert.deepEqual(Object.keys(py.tensors).sort(), [...tensors.keys()].sort());
    for (const [k, r] of Object.entries(py.tensors)) assertTensorMatches(tensors.get(k), r, k);
  });
});
