// An exclusive lock file beside a blob (`<blob>.lock`, as huggingface_hub's filelock), so two downloads of one
// file, in one process or several, never write the same `.incomplete` at once. The lock holds `pid@host`; a lock
// left by a process of this host that no longer runs is taken over.
import { hostname } from 'node:os';
import { open, readFile, stat, unlink } from 'node:fs/promises';

export interface LockOptions {
  signal?: AbortSignal;
  /** Pause between attempts while another download holds the lock, in ms. Default 200. */
  pollMs?: number;
  /** Called once when the lock is held by someone else and the call starts waiting. */
  onWait?: (holder: string) => void;
}

function owner(): string {
  return `${process.pid}@${hostname()}`;
}

/** False only when the holder ran on this host and its process is gone. */
function holderAlive(text: string): boolean {
  const m = /^(\d+)@(.*)$/.exec(text.trim());
  if (!m || m[2] !== hostname()) return true;
  try {
    process.kill(Number(m[1]), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function emptyForLong(path: string): Promise<boolean> {
  try {
    const st = await stat(path);
    return st.size === 0 && Date.now() - st.mtimeMs > 10_000;
  } catch {
    return false;
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn` while holding the lock file `path` (created with O_EXCL); waits while another holder is alive. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const me = owner();
  let announced = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(me);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readFile(path, 'utf8').catch(() => '');
    // An empty lock is one being written right now, unless it has stayed empty (its writer died in between).
    const stale = holder === '' ? await emptyForLong(path) : !holderAlive(holder);
    if (stale) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (!announced) {
      announced = true;
      opts.onWait?.(holder);
    }
    await pause(opts.pollMs ?? 200, opts.signal);
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
