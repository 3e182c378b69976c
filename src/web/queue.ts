// One worker loop for all model work: jobs run one at a time in arrival order. Predictions are bounded: at most
// `limit` admitted (waiting or running); beyond that `submit` refuses with a suggested wait.
import { HttpError } from './http.ts';

export type JobKind = 'predict' | 'task';

export interface Job<T> {
  readonly result: Promise<T>;
  /** Removes the job if it has not started; true when removed (its promise then never settles). */
  cancel(): boolean;
  readonly started: boolean;
}

interface Entry {
  kind: JobKind;
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  started: boolean;
}

export interface QueueStats {
  /** Predictions waiting or running. */
  pending: number;
  limit: number;
  /** Jobs waiting (not started), of any kind. */
  waiting: number;
  running: JobKind | null;
  /** Average seconds of recent predictions (0 before the first). */
  avgPredictS: number;
  served: number;
  refused: number;
}

export class WorkQueue {
  private readonly entries: Entry[] = [];
  private current: Entry | null = null;
  private predictions = 0;
  private avgMs = 0;
  private served = 0;
  private refused = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`queue limit must be a positive integer, got ${limit}`);
  }

  /** Seconds a refused client should wait before trying again. */
  retryAfterS(): number {
    const per = this.avgMs > 0 ? this.avgMs : 1000;
    return Math.min(120, Math.max(1, Math.ceil((per * (this.predictions + 1)) / 1000)));
  }

  /** 503 with Retry-After. */
  busyError(message: string): HttpError {
    return new HttpError(503, message, { 'Retry-After': String(this.retryAfterS()) });
  }

  /** Throws the 503 that `submit` would throw for a prediction now (used before an upload is read). */
  checkRoom(): void {
    if (this.predictions >= this.limit) {
      this.refused++;
      throw this.busyError(`the server is busy: ${this.predictions} images are already waiting (the limit is ${this.limit}); try again shortly`);
    }
  }

  submit<T>(kind: JobKind, run: () => Promise<T>): Job<T> {
    if (kind === 'predict') this.checkRoom();
    let entry!: Entry;
    const result = new Promise<T>((resolve, reject) => {
      entry = { kind, run, resolve: resolve as (v: unknown) => void, reject, started: false };
    });
    if (kind === 'predict') this.predictions++;
    this.entries.push(entry);
    void this.loop();
    return {
      result,
      cancel: () => {
        if (entry.started) return false;
        const i = this.entries.indexOf(entry);
        if (i < 0) return false;
        this.entries.splice(i, 1);
        if (entry.kind === 'predict') this.predictions--;
        return true;
      },
      get started() {
        return entry.started;
      },
    };
  }

  stats(): QueueStats {
    return {
      pending: this.predictions,
      limit: this.limit,
      waiting: this.entries.length,
      running: this.current?.kind ?? null,
      avgPredictS: this.avgMs / 1000,
      served: this.served,
      refused: this.refused,
    };
  }

  /** Refuses every job that has not started (503) and waits for the running one. */
  async drain(): Promise<void> {
    for (const e of this.entries.splice(0)) {
      if (e.kind === 'predict') this.predictions--;
      e.reject(new HttpError(503, 'the server is stopping'));
    }
    await this.idle();
  }

  /** Resolves once nothing is waiting or running. */
  async idle(): Promise<void> {
    while (this.current || this.entries.length) await new Promise((r) => setTimeout(r, 10));
  }

  private async loop(): Promise<void> {
    if (this.current) return;
    while (this.entries.length > 0) {
      const e = this.entries.shift()!;
      this.current = e;
      e.started = true;
      const t0 = performance.now();
      try {
        e.resolve(await e.run());
      } catch (err) {
        e.reject(err);
      } finally {
        if (e.kind === 'predict') {
          this.predictions--;
          this.served++;
          const ms = performance.now() - t0;
          this.avgMs = this.avgMs === 0 ? ms : 0.8 * this.avgMs + 0.2 * ms;
        }
        this.current = null;
      }
    }
  }
}
