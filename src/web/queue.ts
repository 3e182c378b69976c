// One worker loop for all model work: jobs run one at a time in arrival order. Predictions are bounded: at most
// `limit` admitted (reserved while their upload is read, waiting or running); beyond that they are refused with a
// suggested wait. Other tasks (model loading, training) are bounded by `taskLimit` waiting or running.
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

/** A prediction slot held while an upload is read; `submit` uses it, `release` gives it back unused. */
export interface Reservation {
  release(): void;
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
  private tasks = 0;
  /** Reservations neither used nor released. */
  private readonly held = new Set<Reservation>();
  private avgMs = 0;
  private served = 0;
  private refused = 0;

  constructor(
    readonly limit: number,
    readonly taskLimit = 4,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`queue limit must be a positive integer, got ${limit}`);
    if (!Number.isInteger(taskLimit) || taskLimit < 1) throw new RangeError(`task limit must be a positive integer, got ${taskLimit}`);
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

  /** Throws the 503 that `submit` would throw for a prediction now. */
  checkRoom(): void {
    if (this.predictions >= this.limit) {
      this.refused++;
      throw this.busyError(`the server is busy: ${this.predictions} images are already waiting (the limit is ${this.limit}); try again shortly`);
    }
  }

  /** Holds a prediction slot (503 when none is free) before an upload is read, so uploads held at once are bounded. */
  reserve(): Reservation {
    this.checkRoom();
    this.predictions++;
    const r: Reservation = {
      release: () => {
        if (this.held.delete(r)) this.predictions--;
      },
    };
    this.held.add(r);
    return r;
  }

  /** Queues a job. A prediction uses `slot` (from `reserve`) when given, else takes a free slot or is refused. */
  submit<T>(kind: JobKind, run: () => Promise<T>, slot?: Reservation): Job<T> {
    if (kind === 'predict') {
      // A held slot is already counted; it is used up here, so a later release() changes nothing.
      if (slot === undefined || !this.held.delete(slot)) {
        this.checkRoom();
        this.predictions++;
      }
    } else {
      if (this.tasks >= this.taskLimit)
        throw this.busyError(`the server is busy: ${this.tasks} model tasks (loading, training) are already waiting; try again shortly`);
      this.tasks++;
    }
    let entry!: Entry;
    const result = new Promise<T>((resolve, reject) => {
      entry = { kind, run, resolve: resolve as (v: unknown) => void, reject, started: false };
    });
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
        else this.tasks--;
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
      else this.tasks--;
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
        } else this.tasks--;
        this.current = null;
      }
    }
  }
}
