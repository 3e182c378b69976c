export * from './types.ts';
export * from './graph.ts';
export * from './ops/index.ts';
export * from './autodiff.ts';
export * from './onnx-emit.ts';
export * from './session.ts';
