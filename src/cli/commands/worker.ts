// `mvfa worker`: scores the tasks of `mvfa queue submit` jobs from Redis (BullMQ); see src/engine/queue/worker.ts.
import { type Command } from 'commander';
import { checkRedisUrl } from '../../engine/queue/connection.ts';
import { engineScorers } from '../../engine/queue/engine-scorer.ts';
import { WORKER_DEFAULTS, runWorker } from '../../engine/queue/worker.ts';
import { type GlobalOptions, UsageError, applyGlobal, cacheDir, log, parseIntOpt } from '../common.ts';

interface WorkerOpts extends GlobalOptions {
  redis: string;
  concurrency: number;
  exitWhenIdle?: boolean;
  lockDuration: number;
  stalledInterval: number;
  maxStalled: number;
  reconnectWait: number;
}

export function registerWorker(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('worker')
    .description('score queued images (mvfa queue submit) until stopped; loads each model a job names once and keeps it')
    .requiredOption('--redis <url>', 'redis://[:password@]host:port[/db] or rediss://… (TLS)')
    .option('--concurrency <k>', 'tasks at once', parseIntOpt('--concurrency'), WORKER_DEFAULTS.concurrency)
    .option('--exit-when-idle', 'exit 0 once nothing is waiting or active in the queue')
    .option(
      '--lock-duration <ms>',
      "a task's lock (renewed every half of it while it runs); after a worker dies, its task runs again elsewhere within lock + stalled interval",
      parseIntOpt('--lock-duration', 100),
      WORKER_DEFAULTS.lockDurationMs,
    )
    .option('--stalled-interval <ms>', 'how often to look for tasks of dead workers', parseIntOpt('--stalled-interval', 100), WORKER_DEFAULTS.stalledIntervalMs)
    .option(
      '--max-stalled <n>',
      'times a task may be recovered from a dead worker before it is failed',
      parseIntOpt('--max-stalled', 0),
      WORKER_DEFAULTS.maxStalledCount,
    )
    .option(
      '--reconnect-wait <s>',
      'how long to wait for an unreachable Redis before exiting 1',
      parseIntOpt('--reconnect-wait'),
      WORKER_DEFAULTS.reconnectWaitMs / 1000,
    )
    .addHelpText('after', '\nExample:\n  mvfa --threads 4 worker --redis redis://:secret@queue:6379 --exit-when-idle')
    .action((o: WorkerOpts) =>
      run(async () => {
        applyGlobal(o);
        try {
          checkRedisUrl(o.redis);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        return runWorker({
          url: o.redis,
          concurrency: o.concurrency,
          exitWhenIdle: !!o.exitWhenIdle,
          lockDurationMs: o.lockDuration,
          stalledIntervalMs: o.stalledInterval,
          maxStalledCount: o.maxStalled,
          reconnectWaitMs: o.reconnectWait * 1000,
          open: engineScorers({ threads: o.threads, device: o.device, cacheDir: cacheDir(), log: (m) => log(o.quiet, m) }),
          log: (m) => log(o.quiet, m),
        });
      }),
    );
}
