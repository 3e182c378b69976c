// A real Redis for the queue tests: Debian's `redis-server`, started on a free loopback port with its data in a
// temporary folder (append-only file, so a restart keeps the queue) and stopped after the tests.
// A missing redis-server is an error that says how to install it, never a silent pass.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export interface RedisServer {
  port: number;
  /** URL with the password. */
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function redisServerBinary(): string {
  const bin = process.env.MVFA_REDIS_SERVER ?? 'redis-server';
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    throw new Error(
      `${bin} not found: the queue tests need a real Redis. Install it with \`apt-get update && apt-get install -y redis-server\` (or set MVFA_REDIS_SERVER)`,
    );
  return bin;
}

export interface RedisTls {
  cert: string;
  key: string;
}

/** Starts redis-server (with `tls`, a TLS-only server: the URL is rediss://, clients need `tls.cert` as CA). */
export async function startRedis(dir: string, password: string, tls?: RedisTls): Promise<RedisServer> {
  const bin = redisServerBinary();
  const port = await freePort();
  let child: ChildProcess | null = null;
  const url = `${tls ? 'rediss' : 'redis'}://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const server: RedisServer = {
    port,
    url,
    async start() {
      const args = tls
        ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-auth-clients', 'no']
        : ['--port', String(port)];
      args.push('--bind', '127.0.0.1', '--dir', dir, '--requirepass', password);
      args.push('--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no', '--logfile', '');
      child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      for (let i = 0; i < 100; i++) {
        const probe = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          ...(tls ? { tls: { ca: readFileSync(tls.cert) } } : {}),
        });
        probe.on('error', () => {});
        try {
          await probe.connect();
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          // not up yet
        } finally {
          probe.disconnect();
        }
        if (child.exitCode !== null) throw new Error(`${bin} exited with code ${child.exitCode} on port ${port}`);
        await sleep(100);
      }
      throw new Error(`${bin} did not answer on port ${port} within 10 s`);
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      c.kill('SIGTERM');
      await once(c, 'exit');
    },
  };
  await server.start();
  return server;
}
