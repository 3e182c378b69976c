// Turns the unpickled object graph into loaded values: tensor views are materialised from their storages,
// TorchScript instances become plain objects annotated with the archive's class declarations.
import { PyGlobal, describePy, type PyValue } from './pickle-values.ts';
import { materialize, materializedBytes } from './strided.ts';
import { WeightFileError, dtypeByteSize, type HostTensor } from './tensor.ts';
import { StorageRef, StorageType, TensorRef, TorchScriptInstance } from './torch-globals.ts';
import type { ScriptClassInfo } from './torchscript-code.ts';
import type { TorchScriptObject, TorchValue } from './torch-types.ts';

/** Deepest nesting of containers accepted. */
export const MAX_DEPTH = 512;

/**
 * Bytes that copied (non-contiguous or expanded) views may add beyond the storages' own bytes. Contiguous views
 * share their storage, so a file can only make the reader hold about as much as it really stores.
 */
export const VIEW_COPY_SLACK_BYTES = 64 * 1024 * 1024;

export class Converter {
  private readonly done = new Map<unknown, TorchValue>();
  private readonly storages = new Set<StorageRef>();
  private storageBytes = 0;
  private copiedBytes = 0;

  constructor(
    private readonly file: string,
    private readonly classes: Map<string, ScriptClassInfo> = new Map(),
  ) {}

  /** Converts the whole graph; shared objects stay shared and cycles stay cycles. Loaded storages are released. */
  convertRoot(v: PyValue): TorchValue {
    try {
      return this.convert(v, 0);
    } finally {
      for (const s of this.storages) s.release();
    }
  }

  private tensor(t: TensorRef): HostTensor {
    const s = t.storage;
    if (!this.storages.has(s)) {
      this.storages.add(s);
      this.storageBytes += s.numel * dtypeByteSize(s.dtype);
    }
    let storage;
    try {
      storage = s.load();
    } catch (e) {
      if (e instanceof WeightFileError) throw e;
      throw new WeightFileError(this.file, `cannot load storage: ${(e as Error).message}`, `storage ${s.key}`, { cause: e });
    }
    const view = { dtype: s.dtype, storage, offset: t.offset, size: t.size, stride: t.stride };
    const copy = materializedBytes(view);
    if (this.copiedBytes + copy > this.storageBytes + VIEW_COPY_SLACK_BYTES) {
      throw new WeightFileError(
        this.file,
        `strided tensor views would copy ${this.copiedBytes + copy} bytes, more than the ${this.storageBytes} bytes of storage they view (+${VIEW_COPY_SLACK_BYTES})`,
        `storage ${s.key}`,
      );
    }
    this.copiedBytes += copy;
    return materialize(view);
  }

  private convert(v: PyValue, depth: number): TorchValue {
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
    const known = this.done.get(v);
    if (known !== undefined) return known;
    if (depth > MAX_DEPTH) throw new WeightFileError(this.file, `object nesting deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(v)) {
      const out: TorchValue[] = [];
      this.done.set(v, out);
      for (const x of v) out.push(this.convert(x, depth + 1));
      return out;
    }
    if (v instanceof Map) {
      const out = new Map<TorchValue, TorchValue>();
      this.done.set(v, out);
      for (const [k, x] of v) out.set(this.convert(k, depth + 1), this.convert(x, depth + 1));
      return out;
    }
    if (v instanceof Set) {
      const out = new Set<TorchValue>();
      this.done.set(v, out);
      for (const x of v) out.add(this.convert(x, depth + 1));
      return out;
    }
    if (v instanceof TensorRef) {
      const t = this.tensor(v);
      this.done.set(v, t);
      return t;
    }
    if (v instanceof StorageRef) {
      const t = this.tensor(new TensorRef(v, 0, [v.numel], [1], false));
      this.done.set(v, t);
      return t;
    }
    if (v instanceof TorchScriptInstance) return this.scriptObject(v, depth);
    if (v instanceof PyGlobal || v instanceof StorageType) return { kind: 'global', name: v.pyClass };
    throw new WeightFileError(this.file, `unexpected ${describePy(v)} in the object graph`);
  }

  private scriptObject(v: TorchScriptInstance, depth: number): TorchScriptObject {
    const info = this.classes.get(v.pyClass);
    const out: TorchScriptObject = {
      kind: 'torchscript-object',
      className: v.pyClass,
      attributes: new Map(),
      state: null,
      isModule: info ? info.isModule : false,
      parameters: info?.parameters.slice(),
      buffers: info?.buffers.slice(),
    };
    this.done.set(v, out);
    const state = v.state === undefined ? null : this.convert(v.state, depth + 1);
    out.state = state;
    if (state instanceof Map) {
      for (const [k, x] of state) if (typeof k === 'string') out.attributes.set(k, x);
    }
    // Without declarations, a class whose state carries nn.Module's `training` flag is taken for a module.
    if (!info) out.isModule = typeof out.attributes.get('training') === 'boolean';
    return out;
  }
}
