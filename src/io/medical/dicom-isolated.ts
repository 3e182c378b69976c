// DICOM reading off the caller's event loop: files are parsed and decoded in a worker thread with a time limit
// and a heap limit, so a hostile upload cannot stall a server that handles other requests meanwhile. A worker
// that runs past its time limit is terminated (and a fresh one started for the next file).
import { Worker } from 'node:worker_threads';

import { DicomError, type DicomImage, type DicomOpenOptions } from './dicom.ts';

export interface IsolatedDicomOptions extends DicomOpenOptions {
  /** Frame to decode (zero-based, default 0), or 'none' for the attributes alone. */
  frame?: number | 'none';
  /** Time limit for the whole read (default ISOLATED_DICOM_TIMEOUT_MS). */
  timeoutMs?: number;
}

export const ISOLATED_DICOM_TIMEOUT_MS = 30_000;
/** V8 heap of the worker (pixel arrays live outside it and are bounded by the readers' own caps). */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 64 };

export interface IsolatedRequest {
  id: number;
  bytes: Uint8Array;
  options: Omit<IsolatedDicomOptions, 'timeoutMs'> & { frame: number | 'none'; name: string };
}

export type IsolatedReply = { id: number; image: DicomImage; error?: undefined } | { id: number; error: string; image?: undefined };

interface Job {
  request: IsolatedRequest;
  timeoutMs: number;
  resolve: (img: DicomImage) => void;
  reject: (err: Error) => void;
}

const WORKER_SOURCE = (tsxApi: string, entry: string): string =>
  `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;

class IsolatedDicomReader {
  private worker: Worker | undefined;
  private readonly queue: Job[] = [];
  private current: { job: Job; timer: NodeJS.Timeout } | undefined;
  private nextId = 1;

  read(bytes: Uint8Array, opts: IsolatedDicomOptions): Promise<DicomImage> {
    const { timeoutMs = ISOLATED_DICOM_TIMEOUT_MS, frame = 0, ...open } = opts;
    const name = open.name ?? '<buffer>';
    // A copy of the bytes is handed over (the caller keeps its own).
    const copy = new Uint8Array(bytes);
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { id: this.nextId++, bytes: copy, options: { ...open, name, frame } }, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private spawn(): Worker {
    // The worker loads TypeScript through tsx whether or not this process was started with it.
    const entry = new URL('./dicom-isolated-worker.ts', import.meta.url).href;
    const w = new Worker(WORKER_SOURCE(import.meta.resolve('tsx/esm/api'), entry), { eval: true, execArgv: [], resourceLimits: RESOURCE_LIMITS });
    w.on('message', (msg: IsolatedReply) => this.settle(msg.id, msg.error === undefined ? msg.image : undefined, msg.error));
    w.on('error', (err) => this.fail(w, `the decoder stopped (${err.message})`));
    w.on('exit', (code) => this.fail(w, `the decoder exited (code ${code})`));
    return w;
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    this.worker ??= this.spawn();
    this.worker.ref();
    const timer = setTimeout(() => {
      const w = this.worker;
      this.worker = undefined;
      this.finish(job, new DicomError(job.request.options.name, `reading took longer than ${job.timeoutMs / 1000} s; refused`));
      void w?.terminate();
    }, job.timeoutMs);
    this.current = { job, timer };
    this.worker.postMessage(job.request, [job.request.bytes.buffer as ArrayBuffer]);
  }

  private finish(job: Job, result: DicomImage | Error): void {
    if (this.current?.job !== job) return;
    clearTimeout(this.current.timer);
    this.current = undefined;
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
    if (this.queue.length === 0) this.worker?.unref();
    this.pump();
  }

  private settle(id: number, image: DicomImage | undefined, error: string | undefined): void {
    const job = this.current?.job;
    if (!job || job.request.id !== id) return;
    this.finish(job, image ?? new DicomError(job.request.options.name, error ?? 'unknown error'));
  }

  private fail(w: Worker, why: string): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const job = this.current?.job;
    if (job) this.finish(job, new DicomError(job.request.options.name, why));
  }
}

const reader = new IsolatedDicomReader();

/**
 * Reads a DICOM file in a worker thread: its attributes and one decoded frame (as readDicom), or the attributes
 * alone with `frame: 'none'`. Errors are DicomErrors naming the file, including running past the time limit.
 */
export function readDicomIsolated(bytes: Uint8Array, opts: IsolatedDicomOptions = {}): Promise<DicomImage> {
  return reader.read(bytes, opts);
}

/** Stops the worker thread (a later read starts a new one). */
export function closeDicomWorker(): Promise<void> {
  return reader.close();
}
