// Atomic file creation: write a temp file in the target directory, fsync it, then move it into place.
import { randomBytes } from 'node:crypto';
import { open, link, rename, unlink, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WeightFileError } from './weights/tensor.ts';

export interface WriteOptions {
  /** Replace an existing file (still atomically). Default false: an existing file is an error. */
  overwrite?: boolean;
  /**
   * Permission bits of a new file (before the umask, as `open`). Default 0o666: what `writeFile` gives, so the user's
   * umask decides. A replaced file keeps its own permission bits whatever this says.
   */
  mode?: number;
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Directory fsync is not supported everywhere; the rename itself is still atomic.
  }
}

/**
 * Writes `content` (one buffer or a sequence of chunks) to `path` atomically. Without `overwrite`, fails (and leaves the
 * existing file untouched) when `path` already exists, including when it appears while writing.
 */
export async function writeFileAtomic(path: string, content: Uint8Array | Iterable<Uint8Array>, options: WriteOptions = {}): Promise<void> {
  const chunks: Iterable<Uint8Array> = content instanceof Uint8Array ? [content] : content;
  const dir = dirname(path);
  const existing = await modeOf(path);
  if (!options.overwrite && existing !== undefined) {
    throw new WeightFileError(path, 'file already exists (pass { overwrite: true } to replace it)');
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh;
  try {
    // 0o600 until the final bits are set below, so a private file is never readable by others, even for a moment.
    fh = await open(tmp, 'wx', 0o600);
  } catch (e) {
    throw new WeightFileError(path, `cannot create temporary file in ${dir}: ${(e as Error).message}`, undefined, { cause: e });
  }
  try {
    try {
      await fh.chmod(existing ?? (options.mode ?? 0o666) & ~currentUmask());
      for (const chunk of chunks) {
        let done = 0;
        while (done < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, done, Math.min(chunk.byteLength - done, 1 << 30));
          done += bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (options.overwrite) {
      await rename(tmp, path);
    } else {
      // link() fails with EEXIST instead of replacing, so a file created meanwhile is never clobbered.
      try {
        await link(tmp, path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new WeightFileError(path, 'file already exists (pass { overwrite: true } to replace it)');
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
        // no hard links on this file system: fall back to check-then-rename
        if (await exists(path)) throw new WeightFileError(path, 'file already exists (pass { overwrite: true } to replace it)');
        await rename(tmp, path);
      }
    }
    await fsyncDir(dir);
  } catch (e) {
    throw e instanceof WeightFileError ? e : new WeightFileError(path, `write failed: ${(e as Error).message}`, undefined, { cause: e });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function exists(path: string): Promise<boolean> {
  return (await modeOf(path)) !== undefined;
}

/** Permission bits of an existing file, or undefined when there is none. */
async function modeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The process umask, read without changing it where Node allows (`process.umask()` with no argument). */
function currentUmask(): number {
  return process.umask();
}
