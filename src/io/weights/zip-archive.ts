// Zip access for PyTorch archives: the central directory is listed with yauzl, entry bytes are then read
// synchronously at their offsets (stored entries straight into the caller's buffer, no whole-file read).
import { inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import type { ByteSource } from './byte-source.ts';
import { WeightFileError } from './tensor.ts';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const MAX_ENTRIES = 1_000_000;
const MAX_INFLATED = 1 << 28;
const LOCAL_HEADER_SIG = 0x04034b50;

async function listEntries(origin: string | Uint8Array, file: string): Promise<ZipEntry[]> {
  const options = { lazyEntries: true, autoClose: false, decodeStrings: true, strictFileNames: false, validateEntrySizes: false };
  let zip: yauzl.ZipFile;
  try {
    zip =
      typeof origin === 'string'
        ? await yauzl.openPromise(origin, options)
        : await yauzl.fromBufferPromise(Buffer.from(origin.buffer, origin.byteOffset, origin.byteLength), options);
  } catch (e) {
    throw new WeightFileError(file, `not a readable zip archive: ${(e as Error).message}`, undefined, { cause: e });
  }
  const out: ZipEntry[] = [];
  try {
    if (zip.entryCount > MAX_ENTRIES) throw new WeightFileError(file, `zip archive claims ${zip.entryCount} entries`);
    for await (const e of zip.eachEntry()) {
      out.push({
        name: e.fileName,
        method: e.compressionMethod,
        flags: e.generalPurposeBitFlag,
        compressedSize: e.compressedSize,
        uncompressedSize: e.uncompressedSize,
        localHeaderOffset: e.relativeOffsetOfLocalHeader,
      });
    }
  } catch (e) {
    if (e instanceof WeightFileError) throw e;
    throw new WeightFileError(file, `corrupt zip central directory: ${(e as Error).message}`, undefined, { cause: e });
  } finally {
    zip.close();
  }
  return out;
}

export class ZipArchive {
  readonly file: string;
  private readonly entries: Map<string, ZipEntry>;
  private readonly dataStarts = new Map<string, number>();

  private constructor(
    private readonly src: ByteSource,
    entries: ZipEntry[],
  ) {
    this.file = src.name;
    this.entries = new Map(entries.map((e) => [e.name, e]));
  }

  /** Lists the archive. `origin` is the path of the file behind `src`, or the bytes behind it. */
  static async open(src: ByteSource, origin: string | Uint8Array): Promise<ZipArchive> {
    return new ZipArchive(src, await listEntries(origin, src.name));
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new WeightFileError(this.file, 'entry missing from the archive', name);
    return e;
  }

  /** Offset of the entry's (compressed) bytes in the file, from its local header. */
  private dataStart(e: ZipEntry): number {
    const known = this.dataStarts.get(e.name);
    if (known !== undefined) return known;
    if (e.flags & 1) throw new WeightFileError(this.file, 'entry is encrypted', e.name);
    const h = this.src.read(e.localHeaderOffset, 30, `local header of '${e.name}'`);
    const dv = new DataView(h.buffer, h.byteOffset, 30);
    if (dv.getUint32(0, true) !== LOCAL_HEADER_SIG) {
      throw new WeightFileError(this.file, `bad local header signature at offset ${e.localHeaderOffset}`, e.name);
    }
    const start = e.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
    if (start + e.compressedSize > this.src.size) {
      throw new WeightFileError(
        this.file,
        `entry data (${e.compressedSize} bytes at offset ${start}) runs past the end of the file (${this.src.size} bytes; truncated?)`,
        e.name,
      );
    }
    this.dataStarts.set(e.name, start);
    return start;
  }

  /** Uncompressed size of an entry. */
  size(name: string): number {
    return this.entry(name).uncompressedSize;
  }

  /**
   * Checks, before anything is allocated for it, that the entry's bytes lie inside the file and that its
   * declared size is plausible (stored: the data is in the file; deflated: below the inflate limit).
   */
  check(name: string): void {
    const e = this.entry(name);
    this.dataStart(e);
    if (e.method === 0 && e.compressedSize !== e.uncompressedSize) {
      throw new WeightFileError(this.file, 'stored entry with different compressed and uncompressed sizes', name);
    }
    if (e.method !== 0 && e.method !== 8) throw new WeightFileError(this.file, `unsupported zip compression method ${e.method}`, name);
    if (e.method === 8 && e.uncompressedSize > MAX_INFLATED) {
      throw new WeightFileError(this.file, `compressed entry of ${e.uncompressedSize} bytes is too large`, name);
    }
  }

  /** Reads a stored entry straight into `target` (whose length must equal the entry size). */
  readInto(name: string, target: Uint8Array): void {
    const e = this.entry(name);
    this.check(name);
    if (e.method !== 0) {
      const bytes = this.read(name);
      if (bytes.byteLength !== target.byteLength) throw new WeightFileError(this.file, 'entry size mismatch', name);
      target.set(bytes);
      return;
    }
    if (e.compressedSize !== target.byteLength || e.uncompressedSize !== target.byteLength) {
      throw new WeightFileError(this.file, `entry has ${e.uncompressedSize} bytes, expected ${target.byteLength}`, name);
    }
    this.src.readInto(this.dataStart(e), target, `entry '${name}'`);
  }

  /** Reads a whole entry (stored or deflated). */
  read(name: string): Uint8Array {
    const e = this.entry(name);
    this.check(name);
    const start = this.dataStart(e);
    if (e.method === 0) return this.src.read(start, e.compressedSize, `entry '${name}'`);
    const raw = this.src.read(start, e.compressedSize, `entry '${name}'`);
    let out: Buffer;
    try {
      out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
    } catch (err) {
      throw new WeightFileError(this.file, `cannot inflate entry: ${(err as Error).message}`, name, { cause: err });
    }
    if (out.byteLength !== e.uncompressedSize) {
      throw new WeightFileError(this.file, `entry inflates to ${out.byteLength} bytes, expected ${e.uncompressedSize}`, name);
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}
