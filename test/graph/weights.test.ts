// Model weights (`Graph.weight`) are held once by the host and lent to every compiled graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledGraph, Graph, add, emitModel, matmul, transpose } from '../../src/graph/index.ts';

function linearGraph(w: Float32Array, b: Float32Array, name = 'lin') {
  const g = new Graph(name);
  const x = g.input('x', [2, 3]);
  const wv = g.weight('w', w, [4, 3]);
  const y = add(matmul(x, transpose(wv, [1, 0])), g.weight('b', b, [4]));
  return { g, y };
}

const X = Float32Array.from([1, 2, 3, -1, 0.5, 2]);
const W = Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 7);
const B = Float32Array.from([0.1, -0.2, 0.3, 0.4]);

function expected(w: Float32Array): number[] {
  const out: number[] = [];
  for (let r = 0; r < 2; r++) for (let o = 0; o < 4; o++) out.push(B[o] + [0, 1, 2].reduce((s, k) => s + X[r * 3 + k] * w[o * 3 + k], 0));
  return out;
}

test('weights are graph inputs fed from the caller array on the CPU: no copy in the model, later changes are seen', async () => {
  const w = W.slice();
  const { g, y } = linearGraph(w, B);
  const { bytes, weightInputs } = emitModel(g, { y }, 'inputs');
  assert.deepEqual(
    weightInputs.map((i) => i.value.name),
    ['w', 'b'],
  );
  assert.ok(!Buffer.from(bytes).includes(Buffer.from(w.buffer)), 'the weight bytes are not in the model');
  const c = await CompiledGraph.compile(g, { y });
  const r1 = (await c.run({ x: X })).y.data;
  expected(w).forEach((v, i) => assert.ok(Math.abs(r1[i] - v) < 1e-6));
  // The session reads the host array itself: one copy per process, shared by every graph.
  w[0] = 10;
  const r2 = (await c.run({ x: X })).y.data;
  expected(w).forEach((v, i) => assert.ok(Math.abs(r2[i] - v) < 1e-5, `entry ${i}: ${r2[i]} vs ${v}`));
  await c.release();
});

test('weights stored as initializers give the same numbers, and the model then holds their bytes', async () => {
  const { g, y } = linearGraph(W, B);
  const { bytes, weightInputs } = emitModel(g, { y }, 'initializers');
  assert.equal(weightInputs.length, 0);
  assert.ok(Buffer.from(bytes).includes(Buffer.from(W.buffer)));
  const fed = await CompiledGraph.compile(g, { y });
  const stored = await CompiledGraph.compile(g, { y }, { weights: 'initializers' });
  assert.deepEqual((await stored.run({ x: X })).y.data, (await fed.run({ x: X })).y.data);
  await fed.release();
  await stored.release();
});

test("weights as in-memory external data: the model holds no weight bytes, onnxruntime reads the caller's arrays", async () => {
  const { g, y } = linearGraph(W, B);
  const { bytes, weightInputs, externalData } = emitModel(g, { y }, 'external');
  assert.equal(weightInputs.length, 0);
  assert.ok(!Buffer.from(bytes).includes(Buffer.from(W.buffer)));
  assert.equal(externalData.length, 2);
  assert.equal(externalData[0].data.buffer, W.buffer, 'a view of the weight array, not a copy');
  const c = await CompiledGraph.compile(g, { y }, { weights: 'external' });
  const r = (await c.run({ x: X })).y.data;
  expected(W).forEach((v, i) => assert.ok(Math.abs(r[i] - v) < 1e-6));
  await c.release();
});

test('a weight is declared once per graph however often it is used; unused weights are left out', async () => {
  const g = new Graph('twice');
  const x = g.input('x', [1, 4]);
  const arr = W.slice();
  const a = g.weight('a', arr, [4, 3]);
  assert.equal(g.weight('a_same', arr, [4, 3]), a, 'the same array with the same shape is the same value');
  assert.notEqual(g.weight('a_copy', W.slice(), [4, 3]), a, 'another array is another weight');
  const same = g.weight('a_again', arr, [4, 3]);
  g.weight('unused', B, [4]);
  const { weightInputs } = emitModel(g, { y: matmul(x, a), z: matmul(x, same) }, 'inputs');
  assert.deepEqual(
    weightInputs.map((i) => i.value.name),
    ['a'],
  );
});

test('the user inputs of a compiled graph do not list its weights, and feeding a weight by name is refused', async () => {
  const { g, y } = linearGraph(W, B);
  const c = await CompiledGraph.compile(g, { y });
  assert.deepEqual([...c.inputs.keys()], ['x']);
  await assert.rejects(c.run({ x: X, w: W }), /unknown input 'w'/);
  await c.release();
});
