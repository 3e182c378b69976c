// `mvfa queue submit|status|collect`: scoring jobs for a fleet of `mvfa worker`s on Redis (BullMQ), see #13.
import { type Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Redis } from 'ioredis';
import { QueueError, checkRedisUrl, connectRedis, explainRedisError, maskUrl } from '../../engine/queue/connection.ts';
import { DEFAULT_CHUNK, type ModelSpec, checkJobName, jobStatus, submitJob } from '../../engine/queue/jobs.ts';
import { collectJob } from '../../engine/queue/collect.ts';
import { writeScoresNpy } from '../../engine/merge.ts';
import { runInputs } from '../../engine/shard.ts';
import { type GlobalOptions, EXIT_INPUT_FAILED, EXIT_OK, UsageError, expandInputs, parseIntOpt } from '../common.ts';
import { modelOptions, resolveClipPath } from '../model-loading.ts';

type Run = (f: () => Promise<number>) => Promise<void>;

interface RedisOpts extends GlobalOptions {
  redis: string;
  job: string;
}

/** Runs `f` with a fail-fast connection; queue and connection problems are usage errors with the URL (password masked). */
async function withRedis<T>(url: string, f: (r: Redis) => Promise<T>): Promise<T> {
  try {
    checkRedisUrl(url);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const redis = connectRedis(url);
  try {
    return await f(redis);
  } catch (e) {
    if (e instanceof QueueError) throw new UsageError(e.message);
    const why = explainRedisError(redis, url, e);
    if (why) throw new UsageError(why.message);
    throw e;
  } finally {
    redis.disconnect();
  }
}

function jobName(v: string): string {
  try {
    return checkJobName(v);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function registerQueue(program: Command, run: Run): void {
  const queue = program.command('queue').description('scoring jobs for `mvfa worker`s on Redis (BullMQ): submit, status, collect');
  modelOptions(
    queue
      .command('submit')
      .description('enqueue images (paths every worker can read) as one job; prints {"job", "images"} with --json')
      .requiredOption('--redis <url>', 'redis://[:password@]host:port[/db] or rediss://… (TLS)')
      .requiredOption('--job <name>', 'job name (letters, digits, . _ -); must be new', jobName)
      .option('--clip <path>', 'CLIP weights, at the same path on every worker; default: the downloaded ViT-L/14-336')
      .requiredOption('--adapters <path>', 'trained adapters (as for predict), at the same path on every worker'),
  )
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .option('--window <auto|minmax|C,W>', 'display window for DICOM and NIfTI')
    .option('--out <dir>', 'shared folder where workers write heatmap overlays')
    .option('--dump <dir>', 'shared folder where workers write raw maps (needed to fuse adapters without calibration)')
    .option('--chunk <n>', `images per task (default ${DEFAULT_CHUNK}: under 1 ms of queue work per image)`, parseIntOpt('--chunk'), DEFAULT_CHUNK)
    .argument('<images...>', 'image files or folders')
    .addHelpText('after', '\nExample:\n  mvfa queue submit --redis redis://queue:6379 --job brain-2026 --adapters /shared/brain.safetensors /shared/scans/')
    .action((images: string[], o: RedisOpts & Omit<ModelSpec, 'supportAugment'> & { supportAugment: string; out?: string; dump?: string; chunk: number }) =>
      run(async () => {
        if (o.supportAugment !== 'none' && o.supportAugment !== 'mvfa')
          throw new UsageError(`--support-augment must be none or mvfa, got '${o.supportAugment}'`);
        if (o.activation !== 'gelu' && o.activation !== 'quickgelu') throw new UsageError(`--activation must be gelu or quickgelu, got '${o.activation}'`);
        if (!existsSync(o.adapters)) throw new UsageError(`--adapters ${o.adapters}: no such file`);
        const files = runInputs(expandInputs(images).map((f) => resolve(f)));
        const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
        const model: ModelSpec = {
          clip: resolve(await resolveClipPath(o)),
          adapters: resolve(o.adapters),
          organ: o.organ,
          support: abs(o.support),
          supportAugment: o.supportAugment,
          levels: o.levels,
          imageSize: o.imageSize,
          activation: o.activation,
          window: o.window,
        };
        for (const d of [o.out, o.dump]) if (d) await mkdir(d, { recursive: true });
        const r = await withRedis(o.redis, (redis) => submitJob(redis, { job: o.job, model, chunk: o.chunk, out: abs(o.out), dump: abs(o.dump) }, files));
        if (o.json) process.stdout.write(`${JSON.stringify({ job: r.job, images: r.images })}\n`);
        else process.stdout.write(`job ${r.job}: ${r.images} images in ${r.tasks} tasks on ${maskUrl(o.redis)}\n`);
        return EXIT_OK;
      }),
    );
  queue
    .command('status')
    .description('image counts of a job: {"total", "done", "failed", "waiting", "active"}')
    .requiredOption('--redis <url>', 'Redis URL')
    .requiredOption('--job <name>', 'job name', jobName)
    .action((o: RedisOpts) =>
      run(async () => {
        const s = await withRedis(o.redis, (redis) => jobStatus(redis, o.job));
        if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
        else process.stdout.write(`job ${o.job}: ${s.done} done, ${s.failed} failed, ${s.active} active, ${s.waiting} waiting of ${s.total}\n`);
        return EXIT_OK;
      }),
    );
  queue
    .command('collect')
    .description("write a job's results.json (the schema of predict --out) with its failures")
    .requiredOption('--redis <url>', 'Redis URL')
    .requiredOption('--job <name>', 'job name', jobName)
    .requiredOption('--out <dir>', 'folder for results.json (an existing results.json is not replaced)')
    .option('--partial', 'write what is done even if images are still waiting or active')
    .action((o: RedisOpts & { out: string; partial?: boolean }) =>
      run(async () => {
        const target = join(o.out, 'results.json');
        if (existsSync(target)) throw new UsageError(`${target} already exists; collect into another folder`);
        const { doc, missing } = await withRedis(o.redis, (redis) => collectJob(redis, o.job, !!o.partial));
        await mkdir(o.out, { recursive: true });
        await writeFile(target, `${JSON.stringify(doc, null, 1)}\n`, { flag: 'wx' });
        await writeScoresNpy(o.out, doc);
        if (o.json) process.stdout.write(`${JSON.stringify({ results: doc.results.length, failures: doc.failures.length, missing: missing.length })}\n`);
        else
          process.stderr.write(
            `${target}: ${doc.results.length} results, ${doc.failures.length} failures${missing.length ? `, ${missing.length} not scored yet` : ''}\n`,
          );
        return doc.failures.length || missing.length ? EXIT_INPUT_FAILED : EXIT_OK;
      }),
    );
}
