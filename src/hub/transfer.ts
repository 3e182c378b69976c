// Resumable GET into `<blob>.incomplete`, hashing (SHA-256) while writing. A partial file is resumed with
// `Range: bytes=N-`; a server that ignores the range (200) or answers another range restarts the file.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileSize } from './cache.ts';
import { NetworkFailure, httpStatusError, isTransportError } from './metadata.ts';

export type ProgressFn = (received: number, total: number | undefined) => void;

export interface TransferOptions {
  /** Where to GET the bytes (the CDN location from the metadata request). */
  url: string;
  /** URL named in error messages (the resolve URL). */
  displayUrl: string;
  headers: Record<string, string>;
  incompletePath: string;
  /** Final size when known; a longer partial file is discarded. */
  expectedSize: number | undefined;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** Longest wait for the response headers or for the next chunk of the body. */
  timeoutMs: number;
  /** Further attempts after a transport failure; each resumes from what is on disk. */
  retries: number;
  retryDelayMs: number;
}

export interface TransferResult {
  size: number;
  sha256: string;
}

async function hashFile(path: string, hash: Hash, end: number): Promise<void> {
  if (end === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: end - 1, highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
}

/** Git's object id of a file: sha1 over `blob <size>\0` and the bytes (the ETag the hub gives small files). */
export async function gitBlobSha1(path: string, size: number): Promise<string> {
  const hash = createHash('sha1').update(`blob ${size}\0`);
  await hashFile(path, hash, size);
  return hash.digest('hex');
}

/** SHA-256 of a whole file. */
export async function fileSha256(path: string): Promise<string> {
  const size = (await fileSize(path)) ?? 0;
  const hash = createHash('sha256');
  await hashFile(path, hash, size);
  return hash.digest('hex');
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0;
  while (done < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done);
    done += bytesWritten;
  }
}

/** Empties (or creates) a file. */
async function reset(path: string): Promise<void> {
  await (await open(path, 'w', 0o644)).close();
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(t);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;
const UNSATISFIED_RANGE = /^bytes \*\/(\d+)$/;

/** Watches a transfer: aborts when no progress is made for `ms`, or when the caller's signal fires. */
class IdleWatch {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal;
  constructor(
    private readonly ms: number,
    outer: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => this.controller.abort(new Error(`no data for ${ms} ms`)), ms);
    this.signal = outer ? AbortSignal.any([outer, this.controller.signal]) : this.controller.signal;
  }
  poke(): void {
    this.timer.refresh();
  }
  get timedOut(): boolean {
    return this.controller.signal.aborted;
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

async function attempt(opts: TransferOptions): Promise<TransferResult> {
  const path = opts.incompletePath;
  for (let restarts = 0; restarts < 3; restarts++) {
    let offset = (await fileSize(path)) ?? 0;
    if (opts.expectedSize !== undefined && offset > opts.expectedSize) {
      await reset(path);
      offset = 0;
    }
    let hash = createHash('sha256');
    await hashFile(path, hash, offset);
    if (offset > 0 && offset === opts.expectedSize) return { size: offset, sha256: hash.digest('hex') };

    const headers: Record<string, string> = { ...opts.headers, 'Accept-Encoding': 'identity' };
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const watch = new IdleWatch(opts.timeoutMs, opts.signal);
    try {
      let res: Response;
      try {
        res = await fetch(opts.url, { headers, redirect: 'follow', signal: watch.signal });
      } catch (e) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        throw new NetworkFailure(opts.displayUrl, e);
      }
      let total = opts.expectedSize;
      if (res.status === 416 && offset > 0) {
        await res.body?.cancel();
        const m = UNSATISFIED_RANGE.exec(res.headers.get('content-range') ?? '');
        if (m && Number(m[1]) === offset) return { size: offset, sha256: hash.digest('hex') };
        await reset(path);
        continue;
      }
      if (res.status === 206) {
        const m = CONTENT_RANGE.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== offset) {
          // Not the range asked for: start over rather than splice unknown bytes.
          await res.body?.cancel();
          await reset(path);
          continue;
        }
        if (total === undefined && m[3] !== '*') total = Number(m[3]);
      } else if (res.status === 200) {
        if (offset > 0) {
          // The server ignored the Range header and sends the whole file: restart it.
          offset = 0;
          hash = createHash('sha256');
        }
        const len = res.headers.get('content-length');
        if (total === undefined && len !== null && /^\d+$/.test(len)) total = Number(len);
      } else {
        await res.body?.cancel();
        if (res.status >= 500) throw new NetworkFailure(opts.displayUrl, new Error(`server error ${res.status}`));
        throw httpStatusError(res.status, opts.displayUrl, undefined);
      }
      return await receive(res, path, offset, hash, total, opts, watch);
    } finally {
      watch.stop();
    }
  }
  throw new NetworkFailure(opts.displayUrl, new Error('the server kept answering ranges other than the one asked for'));
}

async function receive(
  res: Response,
  path: string,
  offset: number,
  hash: Hash,
  total: number | undefined,
  opts: TransferOptions,
  watch: IdleWatch,
): Promise<TransferResult> {
  const fh = await open(path, offset > 0 ? 'a' : 'w', 0o644);
  let received = offset;
  try {
    opts.onProgress?.(received, total);
    if (res.body) {
      try {
        for await (const chunk of res.body) {
          watch.poke();
          hash.update(chunk);
          await writeAll(fh, chunk);
          received += chunk.byteLength;
          opts.onProgress?.(received, total);
        }
      } catch (e) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (watch.timedOut || isTransportError(e)) throw new NetworkFailure(opts.displayUrl, e);
        throw e;
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { size: received, sha256: hash.digest('hex') };
}

/** Downloads into `incompletePath`, resuming what is there; retries transport failures `retries` times. */
export async function transferResumable(opts: TransferOptions): Promise<TransferResult> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt(opts);
    } catch (e) {
      if (!(e instanceof NetworkFailure) || tries >= opts.retries || opts.signal?.aborted) throw e;
      await sleep(opts.retryDelayMs * (tries + 1), opts.signal);
    }
  }
}
