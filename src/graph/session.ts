// Running emitted graphs on onnxruntime-node, with shape-checked Float32Array I/O.
import { randomBytes } from 'node:crypto';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Graph, type Value } from './graph.ts';
import { type WeightPlacement, emitModel } from './onnx-emit.ts';
import { GraphError, numel, shapeStr, type GraphDType, type Shape } from './types.ts';

export type Device = 'cpu' | 'cuda' | 'webgpu';
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu'];

export interface SessionConfig {
  /** Intra-op threads (default: all available cores). */
  threads?: number;
  device?: Device;
  /**
   * Where model weights go. Default 'external' — each session owns and pre-packs its weights, read straight from
   * the weight file where they have one (the host never holds them) — on accelerators and for graphs whose
   * weights come from a file; 'inputs' on the CPU for weights that exist only in memory (the graph reads the
   * caller's arrays: one copy shared by every graph, but products about 20 % slower, packed at every run).
   */
  weights?: WeightPlacement;
}

export type FeedData = Float32Array | BigInt64Array | Uint8Array;
export interface RunResult {
  data: Float32Array;
  shape: number[];
}

interface Spec {
  dtype: GraphDType;
  shape: Shape;
}

const globalConfig: SessionConfig = {};
/** Sets defaults (threads, device) for every graph compiled afterwards. */
export function configureSessions(cfg: SessionConfig): void {
  Object.assign(globalConfig, cfg);
}

/** A Graph compiled into an onnxruntime session. */
export class CompiledGraph {
  private constructor(
    readonly name: string,
    private readonly session: ort.InferenceSession,
    readonly inputs: ReadonlyMap<string, Spec>,
    readonly outputs: ReadonlyMap<string, Spec>,
    /** Model weights fed with every run: tensors over the caller's arrays (no copy). */
    private readonly weightFeeds: Readonly<Record<string, ort.Tensor>>,
  ) {}

  static async compile(g: Graph, outputs: Readonly<Record<string, Value>>, cfg: SessionConfig = {}): Promise<CompiledGraph> {
    const c = { ...globalConfig, ...cfg };
    const device = c.device ?? 'cpu';
    const placement = c.weights ?? (device !== 'cpu' || g.weights.some((w) => w.source.file) ? 'external' : 'inputs');
    let emitted = emitModel(g, outputs, placement);
    const opts: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: (process.env.MVFA_ORT_OPT as 'all' | undefined) ?? 'all',
      executionProviders: executionProviders(device),
      enableCpuMemArena: true,
      enableMemPattern: true,
      logSeverityLevel: Number(process.env.MVFA_ORT_LOG ?? 3) as 0 | 1 | 2 | 3 | 4,
    };
    // onnxruntime's own default under-counts cores on some virtual machines (measured here: half the speed),
    // so the intra-op pool is always sized explicitly: all available cores unless told otherwise.
    opts.intraOpNumThreads = c.threads ?? availableParallelism();
    opts.interOpNumThreads = 1;
    let session: ort.InferenceSession;
    try {
      let modelFile: string | null = null;
      if (emitted.weightDir !== undefined) {
        checkWeightFiles(g);
        modelFile = writeBeside(emitted.weightDir, emitted.bytes);
        // A folder we may not write to: the weights are handed over from memory instead.
        if (modelFile === null) emitted = emitModel(g, outputs, placement, { files: false });
      }
      if (emitted.externalData.length) (opts as { externalData?: unknown }).externalData = emitted.externalData;
      try {
        session = modelFile !== null ? await ort.InferenceSession.create(modelFile, opts) : await ort.InferenceSession.create(emitted.bytes, opts);
      } finally {
        if (modelFile !== null) rmSync(modelFile, { force: true });
      }
    } catch (e) {
      if (e instanceof GraphError) throw e;
      const msg = (e as Error).message;
      if (device !== 'cpu' && /adapter|provider|not available|not supported|cannot load|libcudart|libcuda/i.test(msg)) {
        throw new DeviceError(device, msg);
      }
      throw new GraphError(`graph '${g.name}': onnxruntime could not create a session: ${msg}`);
    }
    const ins = new Map<string, Spec>(g.inputs.map((v) => [v.name, { dtype: v.dtype, shape: v.shape }]));
    const outs = new Map<string, Spec>(Object.entries(outputs).map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape }]));
    const weightFeeds: Record<string, ort.Tensor> = {};
    for (const w of emitted.weightInputs) weightFeeds[w.value.name] = new ort.Tensor('float32', w.data as Float32Array, [...w.value.shape]);
    return new CompiledGraph(g.name, session, ins, outs, weightFeeds);
  }

  /** Runs the graph. Every input must be fed with exactly its element count; outputs come back as Float32Array. */
  async run(feeds: Readonly<Record<string, FeedData>>, fetch?: readonly string[]): Promise<Record<string, RunResult>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, spec] of this.inputs) {
      const d = feeds[name];
      if (d === undefined) throw new GraphError(`graph '${this.name}': input '${name}' ${shapeStr(spec.shape)} was not fed`);
      const want = numel(spec.shape);
      const kind = spec.dtype === 'float32' ? Float32Array : spec.dtype === 'int64' ? BigInt64Array : Uint8Array;
      if (!(d instanceof kind)) throw new GraphError(`graph '${this.name}': input '${name}' must be ${spec.dtype}`);
      if (d.length !== want) {
        throw new GraphError(`graph '${this.name}': input '${name}' has ${d.length} elements, expected ${want} for shape ${shapeStr(spec.shape)}`);
      }
      const dims = [...spec.shape];
      ortFeeds[name] =
        spec.dtype === 'bool'
          ? new ort.Tensor('bool', d as Uint8Array, dims)
          : spec.dtype === 'int64'
            ? new ort.Tensor('int64', d as BigInt64Array, dims)
            : new ort.Tensor('float32', d as Float32Array, dims);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputs.has(name)) throw new GraphError(`graph '${this.name}': unknown input '${name}' (inputs: ${[...this.inputs.keys()].join(', ')})`);
    }
    let res: ort.InferenceSession.ReturnType;
    try {
      const all = { ...ortFeeds, ...this.weightFeeds };
      res = fetch ? await this.session.run(all, [...fetch]) : await this.session.run(all);
    } catch (e) {
      throw new GraphError(`graph '${this.name}': run failed: ${(e as Error).message}`);
    }
    const out: Record<string, RunResult> = {};
    for (const [k, t] of Object.entries(res)) {
      out[k] = { data: t.data as Float32Array, shape: [...t.dims] };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Refuses weight files that changed since their tensors were located in them (the bytes would not be theirs). */
function checkWeightFiles(g: Graph): void {
  const seen = new Set<string>();
  for (const w of g.weights) {
    const f = w.source.file;
    if (!f || seen.has(f.path)) continue;
    seen.add(f.path);
    let st;
    try {
      st = statSync(f.path);
    } catch (e) {
      throw new GraphError(`graph '${g.name}': weight file ${f.path} cannot be read any more: ${(e as Error).message}`);
    }
    if (st.size !== f.size || st.mtimeMs !== f.mtimeMs) {
      throw new GraphError(`graph '${g.name}': weight file ${f.path} changed since it was loaded; load the model again`);
    }
  }
}

/**
 * Writes the model next to the weight file it reads (onnxruntime reads external data only from the model's own
 * folder) under a fresh hidden name; null when that folder cannot be written.
 */
function writeBeside(dir: string, bytes: Uint8Array): string | null {
  for (let attempt = 0; attempt < 4; attempt++) {
    const file = join(dir, `.mvfa-graph-${process.pid}-${randomBytes(6).toString('hex')}.onnx`);
    try {
      writeFileSync(file, bytes, { flag: 'wx' });
      return file;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      rmSync(file, { force: true });
      return null;
    }
  }
  return null;
}

/** The requested device cannot run graphs here (no adapter, no driver, provider missing from the build). */
export class DeviceError extends GraphError {
  constructor(
    readonly device: Device,
    readonly detail: string,
  ) {
    super(
      device === 'webgpu'
        ? `--device webgpu: no usable WebGPU adapter on this machine (onnxruntime: ${firstLine(detail)}). ` +
            'A Vulkan (Linux, e.g. Mesa 25 or a GPU driver), Metal or D3D12 driver is needed; --device cpu works everywhere.'
        : `--device ${device}: this device is not available (onnxruntime: ${firstLine(detail)}); --device cpu works everywhere.`,
    );
    this.name = 'DeviceError';
  }
}

/** The part of an onnxruntime error a user can act on ("Failed to … : reason"), else its first line. */
function firstLine(s: string): string {
  return /Failed[^\n]*/.exec(s)?.[0] ?? s.split('\n')[0];
}

const probes = new Map<Device, Promise<string | null>>();

/** Whether graphs can run on `device` here: null when they can, else the reason (a DeviceError's message). */
export function probeDevice(device: Device): Promise<string | null> {
  let p = probes.get(device);
  if (!p) {
    p = (async () => {
      const g = new Graph(`probe_${device}`);
      const x = g.input('x', [2]);
      try {
        const c = await CompiledGraph.compile(g, { y: x }, { device, threads: 1 });
        await c.release();
        return null;
      } catch (e) {
        if (e instanceof DeviceError) return e.message;
        throw e;
      }
    })();
    probes.set(device, p);
  }
  return p;
}

function executionProviders(device: Device): ort.InferenceSession.SessionOptions['executionProviders'] {
  switch (device) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return ['cuda', 'cpu'];
    case 'webgpu':
      return ['webgpu', 'cpu'];
  }
}
