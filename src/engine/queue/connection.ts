// Redis connections of the queue commands (#13): `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS;
// extra CA certificates through Node's NODE_EXTRA_CA_CERTS). Workers wait for a Redis that went away and reconnect;
// the short-lived commands (submit, status, collect) fail fast with a clear message instead.
import { Redis, type RedisOptions } from 'ioredis';
import { RefusedInputError } from '../../util/errors.ts';

/** A problem with what was asked (URL, job name, unreachable Redis): exit code 2. */
export class QueueError extends RefusedInputError {
  override readonly name = 'QueueError';
}

/** Checks a `--redis` URL; returns it with the password masked, for messages. */
export function checkRedisUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new QueueError(`--redis must be a URL like redis://host:6379 or rediss://:password@host:6380, got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new QueueError(`--redis must start with redis:// or rediss://, got '${u.protocol}//'`);
  if (!u.hostname) throw new QueueError(`--redis ${maskUrl(url)}: no host`);
  return maskUrl(url);
}

export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

export interface ConnectOptions {
  /** Keep retrying while Redis is away, up to this many ms of consecutive failures (workers); default: fail fast. */
  waitMs?: number;
  /** Called on each reconnection attempt with the error that caused it. */
  onRetry?: (attempt: number, delayMs: number) => void;
}

/**
 * A Redis connection for BullMQ (which needs `maxRetriesPerRequest: null`). With `waitMs`, commands issued
 * while Redis is away are held and resent on reconnect, with backoff (0.2 s … 2 s) until `waitMs` have passed.
 */
export function connectRedis(url: string, o: ConnectOptions = {}): Redis {
  checkRedisUrl(url);
  const waitMs = o.waitMs ?? 0;
  let since = 0;
  const opts: RedisOptions = {
    maxRetriesPerRequest: waitMs > 0 ? null : 1,
    enableOfflineQueue: true,
    connectTimeout: 5000,
    retryStrategy(times) {
      const now = Date.now();
      if (times === 1) since = now;
      const delay = Math.min(200 * times, 2000);
      if (waitMs > 0 ? now - since > waitMs : times > 3) return null;
      o.onRetry?.(times, delay);
      return delay;
    },
  };
  const redis = new Redis(url, opts);
  redis.on('ready', () => (since = 0));
  // Errors surface through the commands that hit them (see `explainRedisError`); without a listener ioredis would print each one.
  redis.on('error', (e: Error) => lastErrors.set(redis, e));
  return redis;
}

const lastErrors = new WeakMap<Redis, Error>();

/** A command's failure in words: "max retries" and "connection closed" are replaced by the connection's own error (refused, TLS, auth). */
export function explainRedisError(redis: Redis, url: string, e: unknown): QueueError | null {
  const msg = e instanceof Error ? e.message : String(e);
  const cause = lastErrors.get(redis)?.message;
  const generic = /max retries per request|Connection is closed|Stream isn't writeable/i.test(msg);
  if (!generic && !/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|NOAUTH|WRONGPASS|certificate|self.signed|ssl|tls/i.test(msg)) return null;
  return new QueueError(`cannot use Redis at ${maskUrl(url)}: ${generic && cause ? cause : msg}`);
}
