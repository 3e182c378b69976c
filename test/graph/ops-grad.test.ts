import { test } from 'node:test';
import * as G from '../../src/graph/index.ts';
import { gradCheck } from './gradcheck.ts';

const cases: [string, { shape: number[]; lo?: number; hi?: number; data?: Float32Array }[], (...x: G.Value[]) => G.Value][] = [
  ['Add broadcast', [{ shape: [2, 1, 3] }, { shape: [4, 1] }], (a, b) => G.add(a, b)],
  ['Sub broadcast', [{ shape: [2, 3] }, { shape: [3] }], (a, b) => G.sub(a, b)],
  ['Mul broadcast', [{ shape: [2, 3] }, { shape: [2, 1] }], (a, b) => G.mul(a, b)],
  ['Div broadcast', [{ shape: [2, 3] }, { shape: [3], lo: 0.5, hi: 2 }], (a, b) => G.div(a, b)],
  ['Neg', [{ shape: [5] }], (a) => G.neg(a)],
  ['Exp', [{ shape: [5] }], (a) => G.exp(a)],
  ['Log', [{ shape: [5], lo: 0.5, hi: 2 }], (a) => G.log(a)],
  ['Sqrt', [{ shape: [5], lo: 0.5, hi: 2 }], (a) => G.sqrt(a)],
  ['Sigmoid', [{ shape: [5], lo: -3, hi: 3 }], (a) => G.sigmoid(a)],
  ['Tanh', [{ shape: [5] }], (a) => G.tanh(a)],
  ['Erf', [{ shape: [5] }], (a) => G.erf(a)],
  ['Abs', [{ shape: [6], lo: 0.1, hi: 1 }], (a) => G.abs(G.sub(a, 0.55))],
  ['LeakyRelu', [{ shape: [6], lo: 0.05, hi: 1 }], (a) => G.leakyRelu(G.sub(a, 0.52), 0.01)],
  ['Relu', [{ shape: [6], lo: 0.05, hi: 1 }], (a) => G.relu(G.sub(a, 0.52))],
  ['Gelu (erf)', [{ shape: [7], lo: -3, hi: 3 }], (a) => G.gelu(a)],
  ['QuickGelu', [{ shape: [7], lo: -3, hi: 3 }], (a) => G.quickGelu(a)],
  ['Pow 3', [{ shape: [5] }], (a) => G.pow(a, 3)],
  ['Pow -0.5', [{ shape: [5], lo: 0.5, hi: 2 }], (a) => G.pow(a, -0.5)],
  ['Clip', [{ shape: [6], lo: -1, hi: 1 }], (a) => G.clip(G.mul(a, 1.9), -0.6, 0.6)],
  ['Where', [{ shape: [2, 3] }, { shape: [3] }], (a, b) => G.where(G.greater(a, 0), a, G.mul(b, 2))],
  ['MatMul 3Dx2D', [{ shape: [2, 3, 4] }, { shape: [4, 5] }], (a, b) => G.matmul(a, b)],
  ['MatMul batched', [{ shape: [2, 3, 4] }, { shape: [2, 4, 2] }], (a, b) => G.matmul(a, b)],
  ['MatMul broadcast', [{ shape: [3, 4] }, { shape: [2, 4, 2] }], (a, b) => G.matmul(a, b)],
  ['MatMul 2Dx2D', [{ shape: [3, 4] }, { shape: [4, 2] }], (a, b) => G.matmul(a, b)],
  ['Linear 3D (Gemm transB)', [{ shape: [2, 3, 4] }, { shape: [5, 4] }], (a, w) => G.linear(a, w)],
  ['Linear 2D (Gemm transB)', [{ shape: [3, 4] }, { shape: [2, 4] }], (a, w) => G.linear(a, w)],
  ['Reshape', [{ shape: [2, 6] }], (a) => G.mul(G.reshape(a, [3, -1]), G.reshape(a, [3, 4]))],
  ['Transpose', [{ shape: [2, 3, 4] }], (a) => G.transpose(a, [2, 0, 1])],
  ['Slice', [{ shape: [3, 5] }], (a) => G.slice(a, 1, 1, 4)],
  ['Pad', [{ shape: [2, 3] }], (a) => G.pad(a, [1, 0, 0, 2])],
  ['Concat', [{ shape: [2, 3] }, { shape: [2, 1] }], (a, b) => G.concat([a, b, a], 1)],
  ['Expand', [{ shape: [3, 1] }], (a) => G.expand(a, [2, 3, 4])],
  ['ReduceSum', [{ shape: [2, 3, 4] }], (a) => G.reduceSum(a, [1])],
  ['ReduceMean keepdims', [{ shape: [2, 3, 4] }], (a) => G.reduceMean(a, [0, 2], true)],
  ['ReduceMax', [{ shape: [3, 4] }], (a) => G.reduceMax(a, [1])],
  ['ReduceMin', [{ shape: [3, 4] }], (a) => G.reduceMin(a, [0], true)],
  ['Softmax last', [{ shape: [2, 5], lo: -2, hi: 2 }], (a) => G.softmax(a, -1)],
  ['Softmax axis 0', [{ shape: [3, 2], lo: -2, hi: 2 }], (a) => G.softmax(a, 0)],
  ['LayerNorm', [{ shape: [2, 3, 6] }, { shape: [6] }, { shape: [6] }], (x, w, b) => G.layerNorm(x, w, b, 1e-5)],
  ['Gather + composition', [{ shape: [4, 3] }], (a) => G.mul(G.gather(a, 0, [2, 0, 2]), G.slice(a, 0, 1, 4))],
  ['Gather axis 1', [{ shape: [2, 4] }], (a) => G.gather(a, 1, [3, 1])],
  // Two tied extrema per row/column: a central difference sees half the slope at each (+h moves the max, −h does
  // not), which is the even split of the gradient rule (as torch.amax/amin).
  ['ReduceMax ties', [{ shape: [3, 4], data: Float32Array.from([0.5, 0.9, 0.9, -0.2, 0.3, -0.4, 0.1, 0.3, -0.6, 0.2, 0.7, 0.7]) }], (a) => G.reduceMax(a, [1])],
  ['ReduceMin ties', [{ shape: [3, 2], data: Float32Array.from([-0.5, 0.4, 0.1, -0.3, -0.5, -0.3]) }], (a) => G.reduceMin(a, [0], true)],
  ['Slice two axes', [{ shape: [3, 4, 5] }], (a) => a.graph.apply1(G.SliceOp, [a], { axes: [0, 2], starts: [1, 1], ends: [3, 4] })],
];

for (const [name, inputs, f] of cases) {
  test(`gradient rule: ${name}`, async () => {
    await gradCheck(name, inputs, f);
  });
}
