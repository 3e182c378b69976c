// Queue figures (#13): the BullMQ queue's own cost per image (submit + a worker whose scorer returns at once, one
// image per task and 8 per task), and the steady images/s of 1 and 2 real `mvfa worker` processes (--threads 1 each, default chunk)
// on the tiny random CLIP (vision 128×2, 224 px) over 200 demo images, against a redis-server started here on a
// free loopback port.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../src/engine/queue/connection.ts';
import { DEFAULT_CHUNK, jobKey, submitJob } from '../src/engine/queue/jobs.ts';
import { runWorker } from '../src/engine/queue/worker.ts';
import { initAdapters } from '../src/mvfa/adapters.ts';
import { saveAdapters } from '../src/mvfa/checkpoint.ts';
import { startRedis } from '../test/support/redis-server.ts';
import { writeTinyClip } from '../test/support/tiny-clip.ts';

const REPO = new URL('../', import.meta.url).pathname;

async function overheadMs(url: string, n: number, chunk: number): Promise<number> {
  const redis = connectRedis(url);
  const files = Array.from({ length: n }, (_, i) => `/nowhere/img-${String(i).padStart(6, '0')}.png`);
  const job = `overhead-${chunk}-${Date.now()}`;
  const t0 = performance.now();
  await submitJob(redis, { job, model: { adapters: 'none', supportAugment: 'none', activation: 'gelu' }, chunk }, files);
  const code = await runWorker({
    url,
    concurrency: 1,
    exitWhenIdle: true,
    lockDurationMs: 30_000,
    stalledIntervalMs: 30_000,
    maxStalledCount: 2,
    reconnectWaitMs: 10_000,
    open: async () => ({ scoreFile: async (f) => ({ rows: [{ image: f, score: 0.5, zero_det: 0.25 }], failures: [] }), release: async () => {} }),
    log: () => {},
  });
  const ms = performance.now() - t0;
  redis.disconnect();
  if (code !== 0) throw new Error(`overhead worker exited ${code}`);
  // The idle check polls every 250 ms: take one poll off the total.
  return (ms - 250) / n;
}

/**
 * Steady rate of `workers` worker processes: they start and load the model on a warm-up job first (one task each at
 * least: every worker holds a task while its model loads), then the clock runs from submitting the measured job
 * until its last result is stored.
 */
async function fleet(url: string, dir: string, workers: number, images: string[], clip: string, adapters: string): Promise<number> {
  const redis = connectRedis(url);
  const model = { clip, adapters, supportAugment: 'none' as const, activation: 'gelu' };
  const procs = Array.from({ length: workers }, () =>
    spawn(process.execPath, [join(REPO, 'bin/mvfa.js'), '--threads', '1', '--quiet', 'worker', '--redis', url], {
      env: { ...process.env, MVFA_CACHE: join(dir, 'cache') },
      stdio: 'ignore',
    }),
  );
  const exits = procs.map((p) => once(p, 'exit'));
  const until = async (job: string, n: number) => {
    for (let i = 0; i < 6000 && (await redis.hlen(jobKey(job, 'results'))) < n; i++) await sleep(20);
  };
  try {
    const warm = `warm-${workers}-${Date.now()}`;
    await submitJob(redis, { job: warm, model, chunk: 1 }, images.slice(0, 4 * workers));
    await until(warm, 4 * workers);
    const job = `fleet-${workers}-${Date.now()}`;
    const t0 = performance.now();
    await submitJob(redis, { job, model, chunk: DEFAULT_CHUNK }, images);
    await until(job, images.length);
    const done = await redis.hlen(jobKey(job, 'results'));
    if (done < images.length) throw new Error(`only ${done} of ${images.length} images scored`);
    return images.length / ((performance.now() - t0) / 1000);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(exits);
    redis.disconnect();
  }
}

export async function benchQueue(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-bench-queue-'));
  const redis = await startRedis(mkdtempSync(join(dir, 'redis-')), 'bench');
  try {
    const out: Record<string, number> = {};
    out.queue_overhead_ms_per_image = await overheadMs(redis.url, 2000, 1);
    out.queue_overhead_ms_per_image_chunk8 = await overheadMs(redis.url, 2000, 8);
    const clip = await writeTinyClip(dir);
    const adapters = join(dir, 'adapters.safetensors');
    const r = { min: 0, max: 3 };
    await saveAdapters(adapters, {
      adapters: initAdapters(128, 32, [1, 2], 3),
      info: { organ: 'Breast', imageSize: '224' },
      calibration: { task: 'AC', zeroSeg: r, fewSeg: null, zeroDet: r, fewDet: null, source: 'bench' },
    });
    const demo = join(REPO, 'demo/BUSI_demo_AD/test/good/img');
    const images = readdirSync(demo)
      .sort()
      .slice(0, 40)
      .map((f) => join(demo, f));
    // Warm the text-feature cache so that both runs start alike.
    await fleet(redis.url, dir, 1, images.slice(0, 1), clip, adapters);
    out.queue_tiny_images_per_s_1_worker = await fleet(redis.url, dir, 1, images, clip, adapters);
    out.queue_tiny_images_per_s_2_workers = await fleet(redis.url, dir, 2, images, clip, adapters);
    return out;
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${JSON.stringify(await benchQueue())}\n`);
