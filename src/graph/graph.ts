import { GraphError, type GraphDType, type Shape, numel, sameShape, shapeStr } from './types.ts';

/** A symbolic tensor in a Graph: static dtype and shape. */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly dtype: GraphDType,
    readonly shape: Shape,
    public name: string,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}${shapeStr(this.shape)}`;
  }
}

export type AttrValue = number | string | readonly number[] | boolean;
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface OutputSpec {
  dtype: GraphDType;
  shape: Shape;
}

/** Context handed to an op's emitter: appends ONNX nodes and constants. */
export interface EmitContext {
  /** Appends one ONNX node. `domain` defaults to the standard one. */
  node(opType: string, inputs: string[], outputs: string[], attrs?: Attrs, domain?: string): void;
  /** An int64 constant initializer; returns its name. */
  i64(values: readonly number[], shape?: Shape): string;
  /** A float32 scalar constant initializer; returns its name. */
  f32(value: number): string;
  /** A fresh intermediate name. */
  tmp(hint: string): string;
}

/**
 * An operator: shape inference, ONNX emission and vector-Jacobian product, side by side.
 * `vjp` receives the output gradients (null where no gradient flows) and a mask of which inputs need one;
 * it returns one gradient per input (null when not needed or not defined).
 */
export interface OpDef {
  readonly type: string;
  infer(inputs: readonly Value[], attrs: Attrs): OutputSpec[];
  emit(ctx: EmitContext, inputs: readonly string[], outputs: readonly string[], attrs: Attrs): void;
  vjp?(node: GraphNode, grads: readonly (Value | null)[], needs: readonly boolean[]): (Value | null)[];
}

export interface GraphNode {
  readonly op: OpDef;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
}

export interface Initializer {
  value: Value;
  data: Float32Array | BigInt64Array | Uint8Array;
}

/**
 * Where a weight's bytes lie in a file, exactly as the graph uses them (float32, little-endian, same layout):
 * a session that owns its weights then reads them from the file itself and the host never holds them.
 * `size` and `mtimeMs` are the file's when it was read, so that a file changed since is noticed.
 */
export interface FileRegion {
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** A weight's values: `data` may be read from the file on first use (see `FileRegion`). */
export interface WeightArray {
  readonly data: Float32Array;
  readonly file?: FileRegion;
}

export interface WeightInit {
  value: Value;
  source: WeightArray;
}

/**
 * A static-shape computation graph. Small constants are initializers; model weights (`weight`) are frozen tensors
 * that stay with the caller (or in their file) and are handed to each compiled graph as its `WeightPlacement`
 * says (see `CompiledGraph`); trainable tensors and data are graph inputs.
 */
export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly initializers: Initializer[] = [];
  /** Model weights: frozen, kept out of the serialised model (see `WeightPlacement`). */
  readonly weights: WeightInit[] = [];
  private readonly weightBySource = new Map<Float32Array | WeightArray, Value>();
  private readonly names = new Set<string>();
  private nextId = 0;

  constructor(readonly name = 'graph') {}

  private uniqueName(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_.:/-]/g, '_') || 'v';
    let n = base;
    for (let i = 1; this.names.has(n); i++) n = `${base}_${i}`;
    this.names.add(n);
    return n;
  }

  newValue(dtype: GraphDType, shape: Shape, hint: string): Value {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new GraphError(`${hint}: invalid shape ${shapeStr(shape)}`);
    }
    return new Value(this, this.nextId++, dtype, [...shape], this.uniqueName(hint));
  }

  /** A graph input fed at run time (data or trainable tensor). */
  input(name: string, shape: Shape, dtype: GraphDType = 'float32'): Value {
    if (this.names.has(name)) throw new GraphError(`input '${name}' already exists in graph '${this.name}'`);
    const v = this.newValue(dtype, shape, name);
    this.inputs.push(v);
    return v;
  }

  /** A frozen tensor stored in the model (weights and constants). */
  constant(name: string, data: Float32Array | BigInt64Array | Uint8Array, shape: Shape): Value {
    const dtype: GraphDType = data instanceof Float32Array ? 'float32' : data instanceof BigInt64Array ? 'int64' : 'bool';
    if (data.length !== numel(shape)) {
      throw new GraphError(`constant '${name}': ${data.length} elements do not fill shape ${shapeStr(shape)}`);
    }
    const v = this.newValue(dtype, shape, name);
    this.initializers.push({ value: v, data });
    return v;
  }

  /**
   * A model weight: frozen like `constant`, but its data stays with the caller (or in its file) instead of being
   * serialised into the model. The same array or tensor added twice with one shape gives the same
   * value. A `WeightArray` with a `file` is not read here: its data is read only if a graph needs it in memory.
   */
  weight(name: string, data: Float32Array | WeightArray, shape: Shape): Value {
    const hit = this.weightBySource.get(data);
    if (hit && sameShape(hit.shape, shape)) return hit;
    const source: WeightArray = data instanceof Float32Array ? { data } : data;
    const n = data instanceof Float32Array ? data.length : data.file ? null : data.data.length;
    if (n !== null && n !== numel(shape)) {
      throw new GraphError(`weight '${name}': ${n} elements do not fill shape ${shapeStr(shape)}`);
    }
    const v = this.newValue('float32', shape, name);
    this.weights.push({ value: v, source });
    this.weightBySource.set(data, v);
    return v;
  }

  private readonly scalars = new Map<string, Value>();

  /** A float32 scalar (or filled tensor of `shape`) constant; equal constants are shared. */
  scalar(x: number, shape: Shape = []): Value {
    const key = `${Math.fround(x)}|${shape.join(',')}`;
    let v = this.scalars.get(key);
    if (!v) {
      v = this.constant(`c_${x}`, new Float32Array(numel(shape)).fill(x), shape);
      this.scalars.set(key, v);
    }
    return v;
  }

  apply(op: OpDef, inputs: readonly Value[], attrs: Attrs = {}, hint?: string): Value[] {
    for (const v of inputs) {
      if (v.graph !== this) throw new GraphError(`${op.type}: input ${v.name} belongs to another graph`);
    }
    const specs = op.infer(inputs, attrs);
    const outputs = specs.map((s, i) => this.newValue(s.dtype, s.shape, `${hint ?? op.type.toLowerCase()}${specs.length > 1 ? `_o${i}` : ''}`));
    this.nodes.push({ op, inputs, outputs, attrs });
    return outputs;
  }

  apply1(op: OpDef, inputs: readonly Value[], attrs: Attrs = {}, hint?: string): Value {
    return this.apply(op, inputs, attrs, hint)[0];
  }
}
