// Weights located in a file (`FileRegion`): a session that owns its weights has onnxruntime read them from the
// file itself, so the host never holds them; a file changed since it was located is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledGraph, Graph, GraphError, add, linear, type WeightArray } from '../../src/graph/index.ts';

const X = Float32Array.from([1, 2, 3, -1, 0.5, 2]);
const W = Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 7); // [4, 3], [out, in]
const B = Float32Array.from([0.1, -0.2, 0.3, 0.4]);
const expected = Array.from({ length: 8 }, (_, j) => {
  const [r, o] = [Math.floor(j / 4), j % 4];
  return B[o] + [0, 1, 2].reduce((s, k) => s + X[r * 3 + k] * W[o * 3 + k], 0);
});

/** A file with 40 bytes of junk, then W: the region starts at an offset that is not a multiple of 8. */
function weightFile(): { dir: string; path: string; offset: number } {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-file-weights-'));
  const path = join(dir, 'w.bin');
  const junk = Buffer.alloc(44, 0x7f);
  writeFileSync(path, Buffer.concat([junk, Buffer.from(W.buffer)]));
  return { dir, path, offset: junk.length };
}

/** A weight whose data must never be read on the host: reading it fails the test. */
function unreadable(path: string, offset: number): WeightArray {
  const st = statSync(path);
  return {
    file: { path, offset, size: st.size, mtimeMs: st.mtimeMs },
    get data(): Float32Array {
      throw new Error('the host read a weight that onnxruntime should read from the file');
    },
  };
}

function graph(w: WeightArray) {
  const g = new Graph('file_linear');
  const x = g.input('x', [2, 3]);
  // The bias exists only in memory: it goes into the model itself beside the file-backed weight.
  const y = add(linear(x, g.weight('w', w, [4, 3])), g.weight('b', B.slice(), [4]));
  return { g, y };
}

test('a weight located in a file is read by onnxruntime from the file, never by the host, and gives exact products', async () => {
  const f = weightFile();
  const { g, y } = graph(unreadable(f.path, f.offset));
  const c = await CompiledGraph.compile(g, { y });
  const r = (await c.run({ x: X })).y.data;
  expected.forEach((v, i) => assert.ok(Math.abs(r[i] - v) < 1e-6, `entry ${i}: ${r[i]} vs ${v}`));
  await c.release();
  // The model file written beside the weights for onnxruntime is removed once the session exists.
  assert.deepEqual(readdirSync(f.dir), ['w.bin']);
});

test('a weight file changed since it was located is refused, naming the file', async () => {
  const f = weightFile();
  const w = unreadable(f.path, f.offset);
  utimesSync(f.path, new Date(), new Date(Date.now() + 5000));
  const { g, y } = graph(w);
  await assert.rejects(
    CompiledGraph.compile(g, { y }),
    (e: unknown) => e instanceof GraphError && e.message.includes(f.path) && /changed since it was loaded/.test(e.message),
  );
});

test('--shared-weights placement (graph inputs) reads the host copy instead, with the same numbers', async () => {
  const f = weightFile();
  const w: WeightArray = { data: W.slice(), file: unreadable(f.path, f.offset).file };
  const { g, y } = graph(w);
  const c = await CompiledGraph.compile(g, { y }, { weights: 'inputs' });
  const r = (await c.run({ x: X })).y.data;
  expected.forEach((v, i) => assert.ok(Math.abs(r[i] - v) < 1e-6));
  await c.release();
});
