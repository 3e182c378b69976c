// Random-access byte sources: an open file read with positional reads, or an in-memory buffer.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { WeightFileError } from './tensor.ts';

export interface ByteSource {
  /** Name used in error messages (the file path as given). */
  readonly name: string;
  readonly size: number;
  /** Fills `target` with the bytes at [offset, offset + target.length); throws if they are not all there. */
  readInto(offset: number, target: Uint8Array, what?: string): void;
  /** Returns the bytes at [offset, offset + length) (a copy or a view). */
  read(offset: number, length: number, what?: string): Uint8Array;
  close(): void;
}

function checkRange(src: ByteSource, offset: number, length: number, what: string | undefined): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new WeightFileError(src.name, `invalid byte range (offset ${offset}, length ${length})${what ? ` for ${what}` : ''}`);
  }
  if (offset + length > src.size) {
    throw new WeightFileError(
      src.name,
      `unexpected end of file: ${what ?? 'data'} needs bytes ${offset}..${offset + length} but the file has ${src.size} bytes (truncated?)`,
    );
  }
}

const MAX_READ = 1 << 30; // readSync is limited to < 2 GiB per call

export class FileByteSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  private fd: number | undefined;

  constructor(path: string, name = path) {
    this.name = name;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new WeightFileError(name, `cannot open: ${(e as Error).message}`, undefined, { cause: e });
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new WeightFileError(name, 'not a regular file');
      this.size = st.size;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  readInto(offset: number, target: Uint8Array, what?: string): void {
    checkRange(this, offset, target.length, what);
    if (this.fd === undefined) throw new WeightFileError(this.name, 'file already closed');
    let done = 0;
    while (done < target.length) {
      const want = Math.min(target.length - done, MAX_READ);
      const n = readSync(this.fd, target, done, want, offset + done);
      if (n <= 0) {
        throw new WeightFileError(this.name, `unexpected end of file while reading ${what ?? 'data'} at offset ${offset + done}`);
      }
      done += n;
    }
  }

  read(offset: number, length: number, what?: string): Uint8Array {
    checkRange(this, offset, length, what);
    const out = new Uint8Array(length);
    this.readInto(offset, out, what);
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export class BufferByteSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, name: string) {
    this.bytes = bytes;
    this.name = name;
    this.size = bytes.byteLength;
  }

  readInto(offset: number, target: Uint8Array, what?: string): void {
    checkRange(this, offset, target.length, what);
    target.set(this.bytes.subarray(offset, offset + target.length));
  }

  read(offset: number, length: number, what?: string): Uint8Array {
    checkRange(this, offset, length, what);
    return this.bytes.subarray(offset, offset + length);
  }

  close(): void {}
}
