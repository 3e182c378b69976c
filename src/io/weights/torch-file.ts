// PyTorch files: `torch.save` zip archives (1.6+), TorchScript archives (`torch.jit.save`) and the legacy
// pre-1.6 format. Nothing in them is executed; tensor bytes are read at their offsets in the file.
import { BufferByteSource, FileByteSource, type ByteSource } from './byte-source.ts';
import { unpickle } from './pickle.ts';
import type { PyValue } from './pickle-values.ts';
import { flattenStateDict } from './torch-flatten.ts';
import { WeightFileError, allocData, byteswapInPlace, dtypeByteSize, type HostTensor, type TensorData } from './tensor.ts';
import { Converter } from './torch-convert.ts';
import { StorageRef, StorageType, torchFindGlobal } from './torch-globals.ts';
import { readLegacyTorch } from './torch-legacy.ts';
import type { TorchObject } from './torch-types.ts';
import { MAX_SCRIPT_CODE_BYTES, parseScriptCode, type ScriptClassInfo } from './torchscript-code.ts';
import { ZipArchive } from './zip-archive.ts';

export { flattenStateDict } from './torch-flatten.ts';
export { isTorchScriptObject, type TorchDict, type TorchObject, type TorchScriptObject, type TorchValue } from './torch-types.ts';

export interface ReadTorchOptions {
  /**
   * Accept TorchScript classes (`__torch__.*`, as inert objects). 'auto' (default): only in archives that are
   * TorchScript archives (they hold `constants.pkl` or `code/`).
   */
  torchScript?: 'auto' | boolean;
}

export type TorchFileFormat = 'zip' | 'torchscript' | 'legacy';

function findRoot(zip: ZipArchive): string {
  const candidates = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (candidates.length === 0) {
    throw new WeightFileError(zip.file, 'zip archive has no <name>/data.pkl entry: not a PyTorch file');
  }
  if (candidates.length > 1) throw new WeightFileError(zip.file, `zip archive has several data.pkl entries (${candidates.join(', ')})`);
  return candidates[0].slice(0, -'/data.pkl'.length);
}

function readScriptClasses(zip: ZipArchive, root: string): Map<string, ScriptClassInfo> {
  const classes = new Map<string, ScriptClassInfo>();
  const codeDir = `${root}/code/`;
  for (const name of zip.names()) {
    if (!name.startsWith(codeDir) || !name.endsWith('.py')) continue;
    const size = zip.size(name);
    if (size > MAX_SCRIPT_CODE_BYTES) {
      throw new WeightFileError(zip.file, `TorchScript code file of ${size} bytes is larger than the ${MAX_SCRIPT_CODE_BYTES} accepted`, name);
    }
    const source = new TextDecoder().decode(zip.read(name));
    parseScriptCode(name.slice(codeDir.length, -3), source, classes);
  }
  return classes;
}

function readZipTorch(zip: ZipArchive, options: ReadTorchOptions): { root: PyValue; format: TorchFileFormat; classes: Map<string, ScriptClassInfo> } {
  const file = zip.file;
  const root = findRoot(zip);
  const isScript = zip.has(`${root}/constants.pkl`) || zip.names().some((n) => n.startsWith(`${root}/code/`));
  const torchScript = options.torchScript === undefined || options.torchScript === 'auto' ? isScript : options.torchScript;
  let bigEndian = false;
  if (zip.has(`${root}/byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${root}/byteorder`)).trim();
    if (order !== 'little' && order !== 'big') throw new WeightFileError(file, `unknown byte order '${order}'`, `${root}/byteorder`);
    bigEndian = order === 'big';
  }
  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
      throw new WeightFileError(file, 'unsupported persistent id (expected a storage reference)', `${root}/data.pkl`);
    }
    const [, type, key, , numel] = pid;
    if (!(type instanceof StorageType) || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw new WeightFileError(file, 'malformed storage reference', `${root}/data.pkl`);
    }
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== type.dtype) throw new WeightFileError(file, 'storage used with two different dtypes', `${root}/data/${key}`);
      return known;
    }
    const entryName = `${root}/data/${key}`;
    const nbytes = numel * dtypeByteSize(type.dtype);
    const have = zip.size(entryName);
    zip.check(entryName);
    if (have !== nbytes) {
      throw new WeightFileError(file, `storage of ${numel} ${type.dtype} elements needs ${nbytes} bytes but the entry has ${have}`, entryName);
    }
    const ref = new StorageRef(type.dtype, key, numel, (): TensorData => {
      const data = allocData(type.dtype, numel);
      zip.readInto(entryName, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (bigEndian) byteswapInPlace(data);
      return data;
    });
    storages.set(key, ref);
    return ref;
  };
  const value = unpickle(zip.read(`${root}/data.pkl`), {
    file,
    key: `${root}/data.pkl`,
    findGlobal: torchFindGlobal(file, { torchScript }),
    persistentLoad,
  }).value;
  return { root: value, format: isScript ? 'torchscript' : 'zip', classes: isScript ? readScriptClasses(zip, root) : new Map() };
}

async function readFromSource(
  src: ByteSource,
  origin: string | Uint8Array,
  options: ReadTorchOptions,
): Promise<{ value: TorchObject; format: TorchFileFormat }> {
  const file = src.name;
  if (src.size === 0) throw new WeightFileError(file, 'empty file');
  const head = src.read(0, Math.min(src.size, 8), 'file signature');
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6)) {
    const zip = await ZipArchive.open(src, origin);
    const { root, format, classes } = readZipTorch(zip, options);
    return { value: new Converter(file, classes).convertRoot(root), format };
  }
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
    return { value: new Converter(file).convertRoot(readLegacyTorch(src)), format: 'legacy' };
  }
  if (src.size >= 262 && new TextDecoder('latin1').decode(src.read(257, 5)) === 'ustar') {
    throw new WeightFileError(file, 'the tar-based torch.save format (PyTorch < 0.4) is not supported');
  }
  throw new WeightFileError(file, 'not a PyTorch file (neither a zip archive nor a pickle)');
}

/** Reads a PyTorch file and reports its format alongside the loaded object. */
export async function readTorchFileWithFormat(path: string, options: ReadTorchOptions = {}): Promise<{ value: TorchObject; format: TorchFileFormat }> {
  const src = new FileByteSource(path);
  try {
    return await readFromSource(src, path, options);
  } finally {
    src.close();
  }
}

/**
 * Reads a PyTorch file (`torch.save` zip or legacy, or a TorchScript archive) into nested values with every
 * tensor materialised (views gathered into contiguous arrays).
 */
export async function readTorchFile(path: string, options: ReadTorchOptions = {}): Promise<TorchObject> {
  return (await readTorchFileWithFormat(path, options)).value;
}

/** Same as readTorchFile, from bytes in memory (`name` is used in error messages). */
export async function decodeTorchFile(bytes: Uint8Array, name = '<buffer>', options: ReadTorchOptions = {}): Promise<TorchObject> {
  return (await readFromSource(new BufferByteSource(bytes, name), bytes, options)).value;
}

function flattenFile(file: string, value: TorchObject): Map<string, HostTensor> {
  try {
    return flattenStateDict(value);
  } catch (e) {
    throw new WeightFileError(file, (e as Error).message, undefined, { cause: e });
  }
}

/**
 * Reads a PyTorch file and flattens it to `name → tensor` with '.' between levels (`state_dict()` names for
 * TorchScript modules; `{'seg_adapters': {...}}` gives `seg_adapters.<key>`).
 */
export async function readTorchStateDict(path: string, options: ReadTorchOptions = {}): Promise<Map<string, HostTensor>> {
  return flattenFile(path, await readTorchFile(path, options));
}

/** Same as readTorchStateDict, from bytes in memory. */
export async function decodeTorchStateDict(bytes: Uint8Array, name = '<buffer>', options: ReadTorchOptions = {}): Promise<Map<string, HostTensor>> {
  return flattenFile(name, await decodeTorchFile(bytes, name, options));
}
