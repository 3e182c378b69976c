// Emission of a Graph as an ONNX ModelProto (opset 17 + com.microsoft contrib ops onnxruntime provides).
import onnxProto from 'onnx-proto';
import { basename, dirname } from 'node:path';
import { type Attrs, type AttrValue, type EmitContext, type Graph, type Initializer, type Value, type WeightInit } from './graph.ts';
import { GraphError, numel, type GraphDType, type Shape } from './types.ts';

const { onnx } = onnxProto;
type INode = InstanceType<typeof onnx.NodeProto>;
type ITensor = InstanceType<typeof onnx.TensorProto>;

export const OPSET = 17;
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'gamma', 'scale']);

const DT: Record<GraphDType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

function attrProto(name: string, v: AttrValue): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (typeof v === 'boolean') return onnx.AttributeProto.create({ name, type: T.INT, i: v ? 1 : 0 });
  if (typeof v === 'number') {
    return FLOAT_ATTRS.has(name) ? onnx.AttributeProto.create({ name, type: T.FLOAT, f: v }) : onnx.AttributeProto.create({ name, type: T.INT, i: v });
  }
  return FLOAT_ATTRS.has(name)
    ? onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...v] })
    : onnx.AttributeProto.create({ name, type: T.INTS, ints: [...v] });
}

function valueInfo(name: string, dtype: GraphDType, shape: Shape) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: DT[dtype], shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  });
}

function tensorProto(name: string, dtype: GraphDType, shape: Shape, data: Float32Array | BigInt64Array | Uint8Array): ITensor {
  return onnx.TensorProto.create({
    name,
    dataType: DT[dtype],
    dims: [...shape],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

/**
 * Where a graph's model weights (`Graph.weight`) go in the emitted model: 'inputs' (extra graph inputs fed from
 * the caller's arrays at every run), 'external' (initializers owned by the session, which pre-packs them: read by
 * onnxruntime straight from the weight file where the weight has a `FileRegion`, else handed over as in-memory
 * external data from the caller's arrays) or 'initializers' (bytes in the model).
 */
export type WeightPlacement = 'inputs' | 'external' | 'initializers';

/** With weights read from a file, at most this many bytes of other weights are stored in the model itself. */
const INLINE_LIMIT = 64 * 2 ** 20;

export interface EmittedModel {
  bytes: Uint8Array;
  /** The weights the model takes as extra inputs after the graph's own (placement 'inputs'), in input order. */
  weightInputs: Initializer[];
  /** In-memory external data files (placement 'external'): one per weight, views of the caller's arrays. */
  externalData: { path: string; data: Uint8Array }[];
  /**
   * Placement 'external' with weights read from a file: the directory holding that file. onnxruntime resolves
   * external data against the model's own directory, so the model must be created from a file placed there.
   */
  weightDir?: string;
}

/**
 * Serialises the part of `g` needed for `outputs` (name → value) to ONNX bytes.
 * Nodes, initializers and weights that do not contribute to an output are dropped; every declared input is kept.
 * Weights are placed as `placement` says (see WeightPlacement); `files: false` hands every weight over from memory.
 */
export function emitModel(g: Graph, outputs: Readonly<Record<string, Value>>, placement: WeightPlacement, opts: { files?: boolean } = {}): EmittedModel {
  const needed = new Set<number>(Object.values(outputs).map((v) => v.id));
  const live: typeof g.nodes = [];
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (n.outputs.some((o) => needed.has(o.id))) {
      live.push(n);
      for (const v of n.inputs) needed.add(v.id);
    }
  }
  live.reverse();

  const nodes: INode[] = [];
  const extra: ITensor[] = [];
  let tmpCount = 0;
  const ctx: EmitContext = {
    node(opType, inputs, outs, attrs: Attrs = {}, domain?: string) {
      nodes.push(
        onnx.NodeProto.create({
          opType,
          input: inputs,
          output: outs,
          name: `${opType}_${nodes.length}`,
          domain: domain ?? '',
          attribute: Object.entries(attrs).map(([k, v]) => attrProto(k, v)),
        }),
      );
    },
    i64(values, shape) {
      const name = `k_i64_${tmpCount++}`;
      extra.push(tensorProto(name, 'int64', shape ?? [values.length], BigInt64Array.from(values.map((x) => BigInt(x)))));
      return name;
    },
    f32(value) {
      const name = `k_f32_${tmpCount++}`;
      extra.push(tensorProto(name, 'float32', [], Float32Array.of(value)));
      return name;
    },
    tmp(hint) {
      return `${hint}__t${tmpCount++}`;
    },
  };
  for (const n of live) {
    n.op.emit(
      ctx,
      n.inputs.map((v) => v.name),
      n.outputs.map((v) => v.name),
      n.attrs,
    );
  }
  const outNames = new Set<string>();
  for (const [name, v] of Object.entries(outputs)) {
    if (outNames.has(name)) throw new GraphError(`duplicate output name '${name}'`);
    outNames.add(name);
    ctx.node('Identity', [v.name], [name]);
  }
  const proto = (i: Initializer) => tensorProto(i.value.name, i.value.dtype, i.value.shape, i.data);
  const weights = g.weights.filter((w) => needed.has(w.value.id));
  const weightInputs: Initializer[] = placement === 'inputs' ? weights.map((w) => ({ value: w.value, data: w.source.data })) : [];
  const externalData: EmittedModel['externalData'] = [];
  // Weights read from a file: those in the directory of the first one (in practice every weight of a checkpoint).
  // onnxruntime takes external data either all from files or all from memory, so the others (small: a resized
  // positional table, say) go into the model itself; with more than INLINE_LIMIT of them, all come from memory.
  const firstFile = placement === 'external' && opts.files !== false ? weights.find((w) => w.source.file)?.source.file : undefined;
  let weightDir = firstFile ? dirname(firstFile.path) : undefined;
  const fromDir = (w: WeightInit) => weightDir !== undefined && w.source.file !== undefined && dirname(w.source.file.path) === weightDir;
  if (weights.reduce((n, w) => n + (fromDir(w) ? 0 : numel(w.value.shape) * 4), 0) > INLINE_LIMIT) weightDir = undefined;
  const external = (w: WeightInit, k: number): ITensor => {
    if (weightDir !== undefined && !fromDir(w)) return proto({ value: w.value, data: w.source.data });
    let location = `weight_${k}.bin`;
    let offset = 0;
    if (weightDir !== undefined) {
      location = basename(w.source.file!.path);
      offset = w.source.file!.offset;
    } else {
      const d = w.source.data;
      externalData.push({ path: location, data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) });
    }
    return onnx.TensorProto.create({
      name: w.value.name,
      dataType: DT[w.value.dtype],
      dims: [...w.value.shape],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(numel(w.value.shape) * 4) },
      ],
    });
  };
  const weightInits =
    placement === 'initializers' ? weights.map((w) => proto({ value: w.value, data: w.source.data })) : placement === 'external' ? weights.map(external) : [];
  const inits = [...g.initializers.filter((i) => needed.has(i.value.id)).map(proto), ...weightInits];

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'mvfa',
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: g.name,
      node: nodes,
      initializer: [...inits, ...extra],
      input: [...g.inputs, ...weightInputs.map((w) => w.value)].map((v) => valueInfo(v.name, v.dtype, v.shape)),
      output: Object.entries(outputs).map(([name, v]) => valueInfo(name, v.dtype, v.shape)),
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), weightInputs, externalData, ...(weightDir ? { weightDir } : {}) };
}
