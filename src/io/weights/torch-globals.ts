// The allow-list of globals accepted in PyTorch pickles, and the inert values they produce.
import { PyGlobal, PyObject, describePy, type PyDict, type PyValue } from './pickle-values.ts';
import { WeightFileError, type DType, type TensorData } from './tensor.ts';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** `torch.FloatStorage` etc.: only ever used as a tag inside persistent ids. */
export class StorageType extends PyObject {
  readonly pyClass: string;
  constructor(
    name: string,
    readonly dtype: DType,
  ) {
    super();
    this.pyClass = `torch.${name}`;
  }
}

/** A typed storage whose bytes are loaded on first use. */
export class StorageRef extends PyObject {
  readonly pyClass = 'torch.storage';
  private cached: TensorData | undefined;
  constructor(
    readonly dtype: DType,
    readonly key: string,
    readonly numel: number,
    private readonly loader: () => TensorData,
  ) {
    super();
  }
  load(): TensorData {
    if (!this.cached) this.cached = this.loader();
    return this.cached;
  }
  /** Drops the loaded bytes (tensors built from them keep their own reference). */
  release(): void {
    this.cached = undefined;
  }
}

/** A (possibly strided) view into a storage, as described by `_rebuild_tensor_v2`. */
export class TensorRef extends PyObject {
  readonly pyClass = 'torch.Tensor';
  isParameter = false;
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {
    super();
  }
  override build(state: PyValue): void {
    // Tensor.__setstate__ variants only restore requires_grad / hooks / python attributes: not tensor data.
    void state;
  }
}

/** An instance of a TorchScript class (`__torch__.*`): inert data, its BUILD state kept as is. */
export class TorchScriptInstance extends PyObject {
  state: PyValue | undefined;
  constructor(readonly pyClass: string) {
    super();
  }
  override build(state: PyValue): void {
    this.state = state;
  }
}

function intList(file: string, v: PyValue, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new WeightFileError(file, `_rebuild_tensor_v2: ${what} must be a tuple of non-negative integers, got ${describePy(v)}`);
  }
  return v as number[];
}

/** Largest element count a view may have beyond its storage's size (expanded / overlapping views). */
const MAX_OVERLAP_NUMEL = 1 << 24;

function rebuildTensor(file: string, args: PyValue[]): TensorRef {
  if (args.length < 4) throw new WeightFileError(file, `_rebuild_tensor_v2: expected at least 4 arguments, got ${args.length}`);
  const [storage, offset] = args;
  if (!(storage instanceof StorageRef)) throw new WeightFileError(file, `_rebuild_tensor_v2: storage is ${describePy(storage)}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new WeightFileError(file, `_rebuild_tensor_v2: bad storage offset ${String(offset)}`);
  }
  const size = intList(file, args[2], 'size');
  const stride = intList(file, args[3], 'stride');
  if (size.length !== stride.length) {
    throw new WeightFileError(file, `_rebuild_tensor_v2: size has ${size.length} dims but stride has ${stride.length}`);
  }
  let numel = 1;
  let last = offset;
  for (let i = 0; i < size.length; i++) {
    numel *= size[i];
    if (size[i] > 0) last += (size[i] - 1) * stride[i];
  }
  const where = `storage '${storage.key}'`;
  if (numel > 0 && !(last < storage.numel)) {
    throw new WeightFileError(
      file,
      `tensor view (offset ${offset}, size [${size.join(', ')}], stride [${stride.join(', ')}]) reaches element ${last} of ${where}, which has ${storage.numel}`,
    );
  }
  if (numel > Math.max(storage.numel, MAX_OVERLAP_NUMEL)) {
    throw new WeightFileError(file, `tensor view of ${numel} elements over ${where} of ${storage.numel} is too large`);
  }
  return new TensorRef(storage, offset, size, stride, args[4] === true);
}

function asParameter(file: string, args: PyValue[]): TensorRef {
  const t = args[0];
  if (!(t instanceof TensorRef)) throw new WeightFileError(file, `_rebuild_parameter: data is ${describePy(t)}`);
  t.isParameter = true;
  return t;
}

function orderedDict(file: string, args: PyValue[]): PyDict {
  const d: PyDict = new Map();
  if (args.length === 0 || args[0] === null) return d;
  const items = args[0];
  if (items instanceof Map) return new Map(items);
  if (!Array.isArray(items)) throw new WeightFileError(file, `OrderedDict: cannot build from ${describePy(items)}`);
  for (const kv of items) {
    if (!Array.isArray(kv) || kv.length !== 2) throw new WeightFileError(file, 'OrderedDict: items must be (key, value) pairs');
    d.set(kv[0], kv[1]);
  }
  return d;
}

export interface TorchGlobalsOptions {
  /** Accept `__torch__.*` classes (TorchScript archives) as inert objects. */
  torchScript?: boolean;
}

/** TorchScript pickler helpers that only rebuild a list or tag a value's type. */
const TORCHSCRIPT_HELPERS = new Set(['build_intlist', 'build_doublelist', 'build_boollist', 'build_tensorlist', 'build_genericlist', 'restore_type_tag']);

/** Returns the `findGlobal` allow-list for PyTorch pickles; everything not listed is refused. */
export function torchFindGlobal(file: string, options: TorchGlobalsOptions = {}): (module: string, name: string) => PyObject {
  return (module, name) => {
    const full = `${module}.${name}`;
    if (module === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new StorageType(name, STORAGE_DTYPES[name]);
    switch (full) {
      case 'collections.OrderedDict':
        return new PyGlobal(module, name, { call: (a) => orderedDict(file, a), construct: (a) => orderedDict(file, a) });
      case 'torch._utils._rebuild_tensor_v2':
        return new PyGlobal(module, name, { call: (a) => rebuildTensor(file, a) });
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return new PyGlobal(module, name, { call: (a) => asParameter(file, a) });
    }
    if (options.torchScript) {
      if (module === '__torch__' || module.startsWith('__torch__.')) {
        return new PyGlobal(module, name, { construct: () => new TorchScriptInstance(full) });
      }
      if (module === 'torch.jit._pickle' && TORCHSCRIPT_HELPERS.has(name)) {
        return new PyGlobal(module, name, { call: (a) => a[0] ?? null });
      }
    }
    throw new WeightFileError(file, `refusing to load global '${full}' (only tensor data is allowed)`);
  };
}
