/** Element types the graph layer handles. */
export type GraphDType = 'float32' | 'int64' | 'bool';

export type Shape = readonly number[];

/** Error raised while building a graph: names the operator and the shapes involved. */
export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

export function shapeStr(s: Shape): string {
  return `[${s.join(',')}]`;
}

export function numel(s: Shape): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Normalises a possibly negative axis for a tensor of the given rank. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** NumPy broadcasting of two static shapes; throws naming the operator on mismatch. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new GraphError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}
