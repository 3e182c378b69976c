import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledGraph, Graph, add, concat, gather, layerNorm, matmul, reshape, softmax, transpose } from '../../src/graph/index.ts';

test('shape mismatches are caught when the graph is built, naming the operator and the shapes', () => {
  const g = new Graph('g');
  const a = g.input('a', [2, 3]);
  const b = g.input('b', [4, 5]);
  assert.throws(() => matmul(a, b), /MatMul: inner dimensions differ: a\[2,3\] @ b\[4,5\]/);
  assert.throws(() => add(a, b), /Add: shapes \[2,3\] and \[4,5\] cannot be broadcast/);
  assert.throws(() => reshape(a, [4, 2]), /Reshape: cannot reshape a\[2,3\] to \[4,2\]/);
  assert.throws(() => transpose(a, [0, 0]), /Transpose: perm \[0,0\] invalid for a\[2,3\]/);
  assert.throws(() => concat([a, b], 0), /Concat: a\[2,3\], b\[4,5\] do not match on axis 0/);
  assert.throws(() => gather(a, 1, [3]), /Gather: index out of range for axis 1 of a\[2,3\]/);
  assert.throws(() => softmax(a, 2), /Softmax: axis 2 out of range for rank 2/);
  assert.throws(() => layerNorm(a, g.input('w', [4]), g.input('bb', [3])), /LayerNormalization: scale \[4\] \/ bias \[3\] do not match last axis of a\[2,3\]/);
  const m = g.input('mask', [2, 3], 'bool');
  assert.throws(() => add(m, a), /Add: expected float32 input, got bool for mask\[2,3\]/);
});

test('a failed run names the graph and the input', async () => {
  const g = new Graph('demo_graph');
  const x = g.input('x', [2, 3]);
  const c = await CompiledGraph.compile(g, { y: add(x, 1) });
  await assert.rejects(c.run({}), /graph 'demo_graph': input 'x' \[2,3\] was not fed/);
  await assert.rejects(c.run({ x: new Float32Array(5) }), /graph 'demo_graph': input 'x' has 5 elements, expected 6 for shape \[2,3\]/);
  await assert.rejects(c.run({ x: new Float32Array(6), z: new Float32Array(1) }), /graph 'demo_graph': unknown input 'z' \(inputs: x\)/);
  await assert.rejects(c.run({ x: new BigInt64Array(6) }), /graph 'demo_graph': input 'x' must be float32/);
  const r = await c.run({ x: Float32Array.of(1, 2, 3, 4, 5, 6) });
  assert.deepEqual([...r.y.data], [2, 3, 4, 5, 6, 7]);
  await c.release();
});
