export * from './elementwise.ts';
export * from './shape.ts';
export * from './reduce.ts';
export * from './linalg.ts';
export * from './nn.ts';
