// Jobs of the worker fleet (#13): one BullMQ queue for every job; a job NAME groups the tasks of one scoring run.
// Redis keys of a job (prefix `mvfa:job:NAME:`): `meta` (model and output folders), `files` (the run's sorted
// input list), `results` and `failures` (hashes keyed by input file: a task that runs twice still yields one
// result). Task granularity, measured (`npm run bench -- --only queue`, 2000 no-op images): one image per task
// costs 4–7 ms of queue work per image on a loaded 2-core machine, 8 images per task 1–2 ms. Against ~1 s of
// ViT-L scoring per image both are small; 8 per task (DEFAULT_CHUNK) keeps the queue under 5 ms per image while a
// dead worker loses at most 8 images of work and the last tasks still spread over the fleet.
import { type Redis } from 'ioredis';
import { type JobsOptions, Queue } from 'bullmq';
import { QueueError } from './connection.ts';

export const QUEUE_NAME = 'mvfa-predict';
export const DEFAULT_CHUNK = 8;
/** Attempts of a task that throws (Redis or storage trouble); a bad image does not throw: it is recorded as failed. */
export const TASK_ATTEMPTS = 3;

/** The model options of `mvfa predict` that a job carries. */
export interface ModelSpec {
  clip?: string;
  adapters: string;
  organ?: string;
  support?: string;
  supportAugment: 'none' | 'mvfa';
  levels?: number[];
  imageSize?: number;
  activation: string;
  window?: string;
}

export interface JobMeta {
  job: string;
  model: ModelSpec;
  total: number;
  /** Images per task. */
  chunk: number;
  /** Shared folders where workers write heatmaps and raw maps. */
  out?: string;
  dump?: string;
  created: string;
}

/** What a task hands to Redis for one input file. */
export interface TaskData {
  job: string;
  files: string[];
}

export interface JobStatus {
  total: number;
  done: number;
  failed: number;
  waiting: number;
  active: number;
}

export function jobKey(job: string, part: 'meta' | 'files' | 'results' | 'failures'): string {
  return `mvfa:job:${job}:${part}`;
}

export function checkJobName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) throw new QueueError(`--job must be 1–100 letters, digits, '.', '_' or '-', got '${name}'`);
  return name;
}

export async function readMeta(redis: Redis, job: string): Promise<JobMeta> {
  const raw = await redis.get(jobKey(job, 'meta'));
  if (raw === null) throw new QueueError(`no job named '${job}' on this Redis (submit it with \`mvfa queue submit --job ${job}\`)`);
  return JSON.parse(raw) as JobMeta;
}

export function openQueue(redis: Redis): Queue<TaskData> {
  return new Queue<TaskData>(QUEUE_NAME, { connection: redis });
}

/** Enqueues the sorted input list of a job in tasks of `chunk` images; refuses a job name already in use. */
export async function submitJob(
  redis: Redis,
  meta: Omit<JobMeta, 'total' | 'created'>,
  files: readonly string[],
): Promise<{ job: string; images: number; tasks: number }> {
  checkJobName(meta.job);
  const full: JobMeta = { ...meta, total: files.length, created: new Date().toISOString() };
  const claimed = await redis.set(jobKey(meta.job, 'meta'), JSON.stringify(full), 'NX');
  if (claimed !== 'OK') throw new QueueError(`a job named '${meta.job}' already exists on this Redis; choose another --job name`);
  for (let i = 0; i < files.length; i += 10000) await redis.rpush(jobKey(meta.job, 'files'), ...files.slice(i, i + 10000));
  const queue = openQueue(redis);
  let tasks = 0;
  try {
    const bulk: { name: string; data: TaskData; opts: JobsOptions }[] = [];
    const opts: JobsOptions = { attempts: TASK_ATTEMPTS, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true };
    for (let i = 0; i < files.length; i += meta.chunk) {
      bulk.push({ name: meta.job, data: { job: meta.job, files: files.slice(i, i + meta.chunk) }, opts: { ...opts, jobId: `${meta.job}.${tasks++}` } });
      if (bulk.length === 1000) await queue.addBulk(bulk.splice(0));
    }
    if (bulk.length) await queue.addBulk(bulk);
  } finally {
    await queue.close();
  }
  return { job: meta.job, images: files.length, tasks };
}

/**
 * Files of a job's tasks that BullMQ failed for good (attempts used up, or stalled more than maxStalledCount times:
 * the worker running a stalled check stores nothing for those), with the reason.
 */
export async function failedTaskFiles(redis: Redis, job: string): Promise<Map<string, string>> {
  const queue = openQueue(redis);
  const out = new Map<string, string>();
  try {
    for (let start = 0; ; start += 1000) {
      const page = await queue.getFailed(start, start + 999);
      for (const t of page) if (t && t.data.job === job) for (const f of t.data.files) if (!out.has(f)) out.set(f, t.failedReason);
      if (page.length < 1000) break;
    }
  } finally {
    await queue.close();
  }
  return out;
}

/** Files of a job with no result and no stored failure. */
async function unrecorded(redis: Redis, job: string, files: Iterable<string>): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    const [r, e] = await Promise.all([redis.hexists(jobKey(job, 'results'), f), redis.hexists(jobKey(job, 'failures'), f)]);
    if (!r && !e) out.push(f);
  }
  return out;
}

/** Image counts of a job: done and failed from the result hashes (and failed tasks), active from the tasks being processed now. */
export async function jobStatus(redis: Redis, job: string): Promise<JobStatus> {
  const meta = await readMeta(redis, job);
  const [done, stored] = await Promise.all([redis.hlen(jobKey(job, 'results')), redis.hlen(jobKey(job, 'failures'))]);
  const queue = openQueue(redis);
  let running: string[];
  try {
    running = (await queue.getJobs(['active'])).filter((t) => t && t.data.job === job).flatMap((t) => t.data.files);
  } finally {
    await queue.close();
  }
  const active = (await unrecorded(redis, job, running)).length;
  const failed = stored + (await unrecorded(redis, job, (await failedTaskFiles(redis, job)).keys())).length;
  return { total: meta.total, done, failed, waiting: Math.max(0, meta.total - done - failed - active), active };
}

/** Every value of a hash, read in slices (a job may hold millions of images). */
export async function readHash(redis: Redis, key: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, kv] = await redis.hscan(key, cursor, 'COUNT', 1000);
    for (let i = 0; i < kv.length; i += 2) out.set(kv[i], kv[i + 1]);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

export async function readFiles(redis: Redis, job: string): Promise<string[]> {
  return redis.lrange(jobKey(job, 'files'), 0, -1);
}
