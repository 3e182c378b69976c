// The pre-1.6 `torch.save` format: a sequence of pickles (magic number, protocol version, system info, the
// object, the storage keys) followed by each storage as an int64 element count and its raw bytes.
import type { ByteSource } from './byte-source.ts';
import { PickleTruncatedError, unpickle, type UnpickleOptions } from './pickle.ts';
import type { PyValue } from './pickle-values.ts';
import { WeightFileError, allocData, byteswapInPlace, dtypeByteSize, type TensorData } from './tensor.ts';
import { StorageRef, StorageType, torchFindGlobal } from './torch-globals.ts';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

interface LegacyStorage {
  ref: StorageRef;
  dataOffset: number | undefined;
}

function asInt(v: PyValue): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/**
 * Parses a legacy file (or a plain pickle without storages) from `src`. Storage bytes are read lazily at their
 * offsets; storages written on a big-endian machine are converted on load.
 */
export function readLegacyTorch(src: ByteSource): PyValue {
  // Pickles come first; read a growing prefix until they all parse.
  let prefixLen = Math.min(src.size, 1 << 20);
  for (;;) {
    const prefix = src.read(0, prefixLen, 'pickle header');
    try {
      return parseWithPrefix(src, prefix);
    } catch (e) {
      if (!(e instanceof PickleTruncatedError) || prefixLen >= src.size) throw e;
      prefixLen = Math.min(src.size, prefixLen * 4);
    }
  }
}

function parseWithPrefix(src: ByteSource, prefix: Uint8Array): PyValue {
  const file = src.name;
  const findGlobal = torchFindGlobal(file);
  const storages = new Map<string, LegacyStorage>();
  let bigEndian = false;

  const persistentLoad = (pid: PyValue): PyValue => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      throw new WeightFileError(file, 'unsupported persistent id in legacy file');
    }
    const [, type, key, , numelV] = pid;
    const numel = asInt(numelV);
    if (!(type instanceof StorageType) || typeof key !== 'string' || numel === undefined) {
      throw new WeightFileError(file, 'malformed storage persistent id in legacy file');
    }
    let s = storages.get(key);
    if (!s) {
      if (numel * dtypeByteSize(type.dtype) > src.size) {
        throw new WeightFileError(file, `storage declares ${numel} elements, more than the file holds`, `storage ${key}`);
      }
      const entry: LegacyStorage = {
        dataOffset: undefined,
        ref: new StorageRef(type.dtype, key, numel, () => load(entry)),
      };
      s = entry;
      storages.set(key, s);
    }
    const view = pid[5];
    if (view === null || view === undefined) return s.ref;
    // old storage views: (view_key, offset, view_size) into the root storage
    if (!Array.isArray(view) || view.length !== 3) throw new WeightFileError(file, 'malformed storage view', `storage ${key}`);
    const [viewKey, offV, sizeV] = view;
    const off = asInt(offV);
    const size = asInt(sizeV);
    if (typeof viewKey !== 'string' || off === undefined || size === undefined || off + size > s.ref.numel) {
      throw new WeightFileError(file, 'storage view out of range', `storage ${key}`);
    }
    const root = s.ref;
    return new StorageRef(root.dtype, viewKey, size, () => root.load().subarray(off, off + size) as TensorData);
  };

  const load = (s: LegacyStorage): TensorData => {
    if (s.dataOffset === undefined) throw new WeightFileError(file, 'storage has no data in the file', `storage ${s.ref.key}`);
    const data = allocData(s.ref.dtype, s.ref.numel);
    src.readInto(s.dataOffset, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), `storage ${s.ref.key}`);
    if (bigEndian) byteswapInPlace(data);
    return data;
  };

  const opts = (key: string, extra: Partial<UnpickleOptions> = {}): UnpickleOptions => ({ file, key, findGlobal, ...extra });
  const first = unpickle(prefix, opts('pickle 1'));
  if (first.value !== MAGIC) {
    // A plain pickle (not written by torch.save): its value is the object; it cannot reference storages.
    return first.value;
  }
  const proto = unpickle(prefix, opts('protocol version'), first.end);
  if (proto.value !== PROTOCOL_VERSION) throw new WeightFileError(file, `unsupported legacy protocol version ${String(proto.value)}`);
  const sys = unpickle(prefix, opts('system info'), proto.end);
  if (sys.value instanceof Map && sys.value.get('little_endian') === false) bigEndian = true;
  const main = unpickle(prefix, opts('data', { persistentLoad }), sys.end);
  const keys = unpickle(prefix, opts('storage keys'), main.end);
  if (!Array.isArray(keys.value)) throw new WeightFileError(file, 'storage key list is not a list');

  let pos = keys.end;
  for (const k of keys.value) {
    const s = typeof k === 'string' ? storages.get(k) : undefined;
    if (!s) throw new WeightFileError(file, 'storage listed but never used, cannot skip it', `storage ${String(k)}`);
    const head = src.read(pos, 8, `size of storage ${k}`);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    const n = bigEndian ? dv.getBigInt64(0, false) : dv.getBigInt64(0, true);
    if (n !== BigInt(s.ref.numel)) {
      throw new WeightFileError(file, `storage holds ${n} elements but the object expects ${s.ref.numel}`, `storage ${k}`);
    }
    s.dataOffset = pos + 8;
    pos += 8 + s.ref.numel * dtypeByteSize(s.ref.dtype);
    if (pos > src.size) throw new WeightFileError(file, `storage data runs past the end of the file (truncated?)`, `storage ${k}`);
  }
  return main.value;
}
