// `mvfa worker`: takes tasks of any job from the queue, scores their images with the model the job names (loaded
// once per model and kept), and stores one record per input file in Redis.
// Failure handling (#13):
// - a bad image is recorded as failed with its error; the task completes and is not retried;
// - a task that throws (Redis or storage trouble, a model that cannot load) is retried TASK_ATTEMPTS times, then its
//   images are recorded as failed;
// - a worker that dies mid-task (SIGKILL, lost machine) stops renewing its lock: after `lockDurationMs` the
//   stalled-job check of any live worker (every `stalledIntervalMs`) puts the task back, and another worker runs it;
//   a task that stalls more than `maxStalledCount` times is failed (an image that kills every worker is not
//   retried forever);
// - Redis going away: commands wait and are resent after reconnection, for up to `reconnectWaitMs`.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import { connectRedis, maskUrl } from './connection.ts';
import { type JobMeta, type ModelSpec, type TaskData, QUEUE_NAME, TASK_ATTEMPTS, jobKey, openQueue, readMeta } from './jobs.ts';
import { type FileScorer, type OpenScorer } from './records.ts';

export interface WorkerSettings {
  url: string;
  /** Tasks processed at once by this worker (default 1). */
  concurrency: number;
  /** Exit 0 as soon as no task is waiting or active in the queue. */
  exitWhenIdle: boolean;
  /** How long a task's lock lasts without renewal (renewed every half of it while the task runs). */
  lockDurationMs: number;
  /** How often this worker looks for stalled tasks (those whose lock expired). */
  stalledIntervalMs: number;
  /** Times a task may stall and be put back before it is failed. */
  maxStalledCount: number;
  /** How long to keep waiting for an unreachable Redis before giving up (exit 1). */
  reconnectWaitMs: number;
  open: OpenScorer;
  log: (msg: string) => void;
}

export const WORKER_DEFAULTS = { concurrency: 1, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 2, reconnectWaitMs: 600_000 } as const;

/**
 * Test hook: with MVFA_WORKER_HOOK_DIR set, the worker writes `started-N` (holding the image path) into that
 * folder when it starts scoring an image, and before storing the result waits while a file `hold` exists there.
 * Tests use it to kill a worker or restart Redis at a known point of a task, without timing.
 */
function testHook(): { started(file: string): Promise<void>; hold(): Promise<void> } {
  const dir = process.env.MVFA_WORKER_HOOK_DIR;
  let n = 0;
  return {
    async started(file) {
      if (dir) await writeFile(join(dir, `started-${++n}`), file);
    },
    async hold() {
      if (!dir) return;
      for (let i = 0; i < 6000 && existsSync(join(dir, 'hold')); i++) await sleep(100);
    },
  };
}

function modelKey(spec: ModelSpec): string {
  return JSON.stringify(Object.entries(spec).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Runs a worker until SIGINT/SIGTERM, until the queue is idle (with `exitWhenIdle`), or until Redis stays away too long. */
export async function runWorker(s: WorkerSettings): Promise<number> {
  let lastRetryLog = 0;
  const redis = connectRedis(s.url, {
    waitMs: s.reconnectWaitMs,
    onRetry: (attempt) => {
      if (Date.now() - lastRetryLog > 5000) {
        lastRetryLog = Date.now();
        s.log(`worker: Redis at ${maskUrl(s.url)} unreachable, reconnecting (attempt ${attempt})`);
      }
    },
  });
  const metas = new Map<string, Promise<JobMeta>>();
  const models = new Map<string, Promise<FileScorer>>();
  const hook = testHook();
  const metaOf = (job: string): Promise<JobMeta> => {
    let m = metas.get(job);
    if (!m) {
      m = readMeta(redis, job);
      m.catch(() => metas.delete(job));
      metas.set(job, m);
    }
    return m;
  };
  const scorerFor = (spec: ModelSpec): Promise<FileScorer> => {
    const key = modelKey(spec);
    let m = models.get(key);
    if (!m) {
      s.log(`worker: loading model ${spec.adapters}`);
      m = s.open(spec);
      m.catch(() => models.delete(key));
      models.set(key, m);
    }
    return m;
  };

  const process = async (task: Job<TaskData>): Promise<number> => {
    const { job, files } = task.data;
    const meta = await metaOf(job);
    const scorer = await scorerFor(meta.model);
    let scored = 0;
    for (const f of files) {
      const [done, failed] = await Promise.all([redis.hexists(jobKey(job, 'results'), f), redis.hexists(jobKey(job, 'failures'), f)]);
      if (done || failed) continue; // a task run again after a stall: what was stored stays
      await hook.started(f);
      let record: string | null = null;
      let error = '';
      try {
        record = JSON.stringify(await scorer.scoreFile(f, { out: meta.out, dump: meta.dump }));
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      await hook.hold();
      if (record !== null) {
        await redis.hset(jobKey(job, 'results'), f, record);
        scored++;
        s.log(`worker: scored ${f}`);
      } else {
        await redis.hset(jobKey(job, 'failures'), f, error);
        s.log(`worker: failed ${f}: ${error}`);
      }
    }
    return scored;
  };

  const worker = new Worker<TaskData, number>(QUEUE_NAME, process, {
    connection: redis,
    concurrency: s.concurrency,
    lockDuration: s.lockDurationMs,
    stalledInterval: s.stalledIntervalMs,
    maxStalledCount: s.maxStalledCount,
    drainDelay: 1,
  });
  const pending = new Set<Promise<unknown>>();
  let lastError = 0;
  worker.on('error', (e) => {
    if (Date.now() - lastError > 5000) {
      lastError = Date.now();
      s.log(`worker: ${e.message} (will retry)`);
    }
  });
  worker.on('failed', (task, err) => {
    if (!task) return;
    const final = task.attemptsMade >= (task.opts.attempts ?? TASK_ATTEMPTS) || /stalled/i.test(err.message);
    s.log(`worker: task ${task.id} (${task.data.files.length} image(s)) failed${final ? '' : ', will retry'}: ${err.message}`);
    if (!final) return;
    const stored = Promise.all(task.data.files.map((f) => redis.hsetnx(jobKey(task.data.job, 'failures'), f, err.message))).catch(() => {});
    pending.add(stored);
    void stored.finally(() => pending.delete(stored));
  });

  let stop: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  const onSignal = () => stop(0);
  globalThis.process.once('SIGTERM', onSignal);
  globalThis.process.once('SIGINT', onSignal);
  redis.on('end', () => {
    s.log(`worker: Redis at ${maskUrl(s.url)} unreachable for more than ${Math.round(s.reconnectWaitMs / 1000)} s; giving up`);
    stop(1);
  });
  s.log(`worker: waiting for tasks on ${maskUrl(s.url)} (concurrency ${s.concurrency}, lock ${s.lockDurationMs} ms)`);

  let idleWatch: Promise<void> = Promise.resolve();
  if (s.exitWhenIdle) {
    const queue = openQueue(redis);
    let watching = true;
    void stopped.then(() => (watching = false));
    idleWatch = (async () => {
      while (watching) {
        await sleep(250);
        try {
          const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
          if (Object.values(c).every((v) => v === 0) && watching) {
            s.log('worker: queue idle, exiting');
            stop(0);
          }
        } catch {
          // Redis away: the connection retries; keep watching.
        }
      }
      await queue.close().catch(() => {});
    })();
  }

  const code = await stopped;
  globalThis.process.off('SIGTERM', onSignal);
  globalThis.process.off('SIGINT', onSignal);
  await worker.close(code !== 0);
  await idleWatch;
  await Promise.all(pending);
  for (const m of models.values()) await (await m.catch(() => null))?.release();
  redis.disconnect();
  return code;
}
