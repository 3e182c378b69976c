// safetensors reader (per-tensor positional reads, no whole-file load) and atomic writer.
import { realpathSync, statSync } from 'node:fs';
import { type FileRegion } from '../../graph/graph.ts';
import { writeFileAtomic, type WriteOptions } from '../atomic-write.ts';
import { BufferByteSource, FileByteSource, type ByteSource } from './byte-source.ts';
import { buildHeader, parseHeader, parseHeaderLength, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header.ts';
import { WeightFileError, allocData, isHostTensor, tensorBytes, type DType, type HostTensor, type TensorData } from './tensor.ts';

export type { SafetensorsTensorInfo } from './safetensors-header.ts';

export interface SafetensorsFile {
  /** The path (or name) the file was opened with. */
  readonly path: string;
  /** The `__metadata__` string map, if the file has one. */
  readonly metadata: Record<string, string> | undefined;
  /** Tensor names in data-offset order. */
  keys(): string[];
  has(key: string): boolean;
  info(key: string): SafetensorsTensorInfo;
  /** Reads one tensor from the file into a fresh array. */
  read(key: string): HostTensor;
  /** Reads every tensor, in data-offset order. */
  readAll(): Map<string, HostTensor>;
  /**
   * Every tensor, each read from the file only when its `data` is first used; each carries the `file` region
   * of its bytes, so that onnxruntime can read a weight itself and the host never holds it.
   */
  locateAll(): Map<string, HostTensor>;
  close(): void;
}

class SafetensorsReader implements SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string> | undefined;
  private readonly src: ByteSource;
  private readonly header: SafetensorsHeader;

  constructor(src: ByteSource) {
    this.src = src;
    this.path = src.name;
    const n = parseHeaderLength(src.name, src.read(0, Math.min(8, src.size), 'header length'), src.size);
    this.header = parseHeader(src.name, src.read(8, n, 'header'), src.size);
    this.metadata = this.header.metadata;
  }

  keys(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(key: string): boolean {
    return this.header.tensors.has(key);
  }

  info(key: string): SafetensorsTensorInfo {
    const info = this.header.tensors.get(key);
    if (!info) throw new WeightFileError(this.path, 'no such tensor in the file', key);
    return { dtype: info.dtype, shape: info.shape.slice(), dataOffsets: [info.dataOffsets[0], info.dataOffsets[1]] };
  }

  read(key: string): HostTensor {
    const info = this.header.tensors.get(key);
    if (!info) throw new WeightFileError(this.path, 'no such tensor in the file', key);
    const [begin, end] = info.dataOffsets;
    const numel = info.shape.reduce((a, b) => a * b, 1);
    const data = allocData(info.dtype, numel);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, end - begin);
    try {
      this.src.readInto(this.header.dataStart + begin, bytes, `tensor '${key}'`);
    } catch (e) {
      if (e instanceof WeightFileError && e.key === undefined) throw new WeightFileError(this.path, e.detail, key, { cause: e });
      throw e;
    }
    return { dtype: info.dtype, shape: info.shape.slice(), data };
  }

  readAll(): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const key of this.header.tensors.keys()) out.set(key, this.read(key));
    return out;
  }

  locateAll(): Map<string, HostTensor> {
    const real = realpathSync(this.path);
    const st = statSync(real);
    const out = new Map<string, HostTensor>();
    for (const [key, info] of this.header.tensors) {
      const file: FileRegion = { path: real, offset: this.header.dataStart + info.dataOffsets[0], size: st.size, mtimeMs: st.mtimeMs };
      out.set(key, new LocatedTensor(key, info.dtype, info.shape.slice(), file));
    }
    return out;
  }

  close(): void {
    this.src.close();
  }
}

/**
 * A tensor of a safetensors file, read on first use of `data`. The array is kept only while something else holds
 * it (a graph fed from it, say): a session that took its own copy lets it go, and a later use reads it again.
 */
class LocatedTensor implements HostTensor {
  private cached: WeakRef<TensorData> | undefined;
  constructor(
    private readonly key: string,
    readonly dtype: DType,
    readonly shape: number[],
    readonly file: FileRegion,
  ) {}

  get data(): TensorData {
    const hit = this.cached?.deref();
    if (hit) return hit;
    const st = statSync(this.file.path, { throwIfNoEntry: false });
    if (!st || st.size !== this.file.size || st.mtimeMs !== this.file.mtimeMs) {
      throw new WeightFileError(this.file.path, 'the file changed (or went away) since it was opened; load it again', this.key);
    }
    const data = allocData(
      this.dtype,
      this.shape.reduce((a, b) => a * b, 1),
    );
    const src = new FileByteSource(this.file.path);
    try {
      src.readInto(this.file.offset, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), `tensor '${this.key}'`);
    } finally {
      src.close();
    }
    this.cached = new WeakRef(data);
    return data;
  }
}

/** Opens a safetensors file and validates its header; tensors are read on demand with `read(key)`. */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const src = new FileByteSource(path);
  try {
    return new SafetensorsReader(src);
  } catch (e) {
    src.close();
    throw e;
  }
}

/** Locates every tensor of a safetensors file (see `SafetensorsFile.locateAll`): nothing is read yet. */
export async function locateSafetensors(path: string): Promise<Map<string, HostTensor>> {
  const f = await openSafetensors(path);
  try {
    return f.locateAll();
  } finally {
    f.close();
  }
}

/** Reads every tensor of a safetensors file. */
export async function readSafetensors(path: string): Promise<Map<string, HostTensor>> {
  const f = await openSafetensors(path);
  try {
    return f.readAll();
  } finally {
    f.close();
  }
}

/** Parses safetensors bytes held in memory (`name` is used in error messages). */
export function decodeSafetensors(bytes: Uint8Array, name = '<buffer>'): { tensors: Map<string, HostTensor>; metadata: Record<string, string> | undefined } {
  const r = new SafetensorsReader(new BufferByteSource(bytes, name));
  return { tensors: r.readAll(), metadata: r.metadata };
}

type TensorCollection = Map<string, HostTensor> | Record<string, HostTensor>;

function checkedEntries(file: string, tensors: TensorCollection, metadata: Record<string, string> | undefined): [string, HostTensor][] {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [key, t] of entries) {
    if (key === '__metadata__') throw new WeightFileError(file, 'reserved name cannot be used for a tensor', key);
    if (!isHostTensor(t)) throw new WeightFileError(file, 'not a valid HostTensor (dtype, shape and data length must agree)', key);
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new WeightFileError(file, `metadata value of '${k}' is not a string`);
    }
  }
  return entries;
}

/** Serialises tensors to safetensors chunks (header first, then each tensor's bytes in file order). */
export function encodeSafetensorsChunks(tensors: TensorCollection, metadata?: Record<string, string>, file = '<buffer>'): Uint8Array[] {
  const { header, order } = buildHeader(checkedEntries(file, tensors, metadata), metadata);
  return [header, ...order.map(([, t]) => tensorBytes(t))];
}

/** Serialises tensors to one safetensors buffer, byte-identical to the reference library's output. */
export function encodeSafetensors(tensors: TensorCollection, metadata?: Record<string, string>): Uint8Array {
  return Buffer.concat(encodeSafetensorsChunks(tensors, metadata));
}

/**
 * Writes a safetensors file atomically (temp file in the same directory, fsync, rename). An existing file
 * is an error unless `options.overwrite` is set.
 */
export async function writeSafetensors(path: string, tensors: TensorCollection, metadata?: Record<string, string>, options: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensorsChunks(tensors, metadata, path), options);
}
