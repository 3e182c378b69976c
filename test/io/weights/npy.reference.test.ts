// Live numpy check (reference suite only, `npm run test:reference`): numpy loads the .npy files writeNpy writes to the
// same values, and np.save of those values gives the same bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeNpy } from '../../../src/io/weights/npy.ts';
import { tensorBytes } from '../../../src/io/weights/tensor.ts';
import { runPython } from '../../support/python.ts';
import { SCRIPTS, withTempDir } from '../helpers.ts';
import { DTYPE_OF, tensors } from './npy-cases.ts';

test('written files load in numpy with the same values, and match np.save byte for byte', async () => {
  await withTempDir(async (dir) => {
    const all = tensors();
    const paths: string[] = [];
    for (const [name, t] of Object.entries(all)) {
      const p = join(dir, `${name}.npy`);
      await writeNpy(p, t);
      paths.push(p);
    }
    const py = JSON.parse(runPython(join(SCRIPTS, 'io_npy.py'), ['check', ...paths])) as Record<
      string,
      { descr: string; shape: number[]; b64: string; npsave_b64: string }
    >;
    for (const [name, t] of Object.entries(all)) {
      const p = join(dir, `${name}.npy`);
      const r = py[p];
      assert.equal(DTYPE_OF[r.descr.slice(1)], t.dtype, name);
      assert.deepEqual(r.shape, t.shape, name);
      assert.ok(Buffer.from(r.b64, 'base64').equals(Buffer.from(tensorBytes(t))), `${name}: numpy sees different values`);
      assert.ok(Buffer.from(r.npsave_b64, 'base64').equals(readFileSync(p)), `${name}: bytes differ from np.save`);
    }
  });
});
