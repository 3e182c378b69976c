// Shared set-up of the `mvfa serve` security tests: a tiny random CLIP, random adapters and a PNG in a temporary folder
// (created by securityFixture() in each test file), and raw HTTP helpers with full control of headers and body timing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import sharp from 'sharp';
import { initAdapters } from '../../src/mvfa/adapters.ts';
import { saveAdapters } from '../../src/mvfa/checkpoint.ts';
import { type RunningServer, type ServeOptions, startServer } from '../../src/web/server.ts';
import { TINY_CLIP, writeTinyClip } from '../support/tiny-clip.ts';

export const REPO = new URL('../../', import.meta.url).pathname;
export const ORGAN = 'breast ultrasound';
export let dir: string;
export let clip: string;
export let adapters: string;
export let png: Buffer;

/** Registers the set-up and clean-up hooks of the calling test file. */
export function securityFixture(): void {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mvfa-web-security-'));
    clip = await writeTinyClip(dir);
    adapters = join(dir, 'adapters.safetensors');
    await saveAdapters(adapters, {
      adapters: initAdapters(TINY_CLIP.vwidth, TINY_CLIP.embed, [1, 2], 7),
      info: { organ: ORGAN, imageSize: '56' },
    });
    png = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 37) % 256)), { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
}

export function options(extra: Partial<ServeOptions> = {}): ServeOptions {
  return {
    clipPaths: [clip],
    adapterPaths: [adapters],
    cacheDir: join(dir, 'cache'),
    host: '127.0.0.1',
    port: 0,
    timeoutMs: 60_000,
    scratchParent: dir,
    ...extra,
  };
}

export interface Answer {
  status: number;
  body: string;
}

/** A request with full control of its headers; `body` is sent at once, or use `open()` to send it in parts. */
export function send(port: number, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  return open(port, method, path, headers, body ?? Buffer.alloc(0)).answer;
}

export interface OpenRequest {
  answer: Promise<Answer>;
  /** Sends the rest of the body and ends the request. */
  finish(rest: Buffer): void;
  destroy(): void;
  /** Whether an answer has arrived. */
  answered(): boolean;
}

/** Starts a request, sends `first` and keeps the connection open (a slow upload) until `finish`. */
export function open(port: number, method: string, path: string, headers: Record<string, string>, first: Buffer, total = first.length): OpenRequest {
  let done = false;
  const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, 'Content-Length': String(total), ...headers } });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        done = true;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined);
  req.write(first);
  if (first.length === total) req.end();
  return {
    answer,
    finish: (rest) => req.end(rest),
    destroy: () => req.destroy(),
    answered: () => done,
  };
}

export const BOUNDARY = 'mvfa-test-boundary';
export const MULTIPART = { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` };

export function multipartBody(parts: { field: string; name?: string; type?: string; data: Buffer | string }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = p.name === undefined ? `form-data; name="${p.field}"` : `form-data; name="${p.field}"; filename="${p.name}"`;
    const head = `--${BOUNDARY}\r\nContent-Disposition: ${disp}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** Resolves once `n` of the requests have an answer (polled on the event loop; bounded by `ms`). */
export async function answers(reqs: OpenRequest[], n: number, ms = 30_000): Promise<Answer[]> {
  const t0 = Date.now();
  while (reqs.filter((r) => r.answered()).length < n) {
    if (Date.now() - t0 > ms) assert.fail(`only ${reqs.filter((r) => r.answered()).length} of the ${n} expected answers within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Promise.all(reqs.filter((r) => r.answered()).map((r) => r.answer));
}

export async function withServer(extra: Partial<ServeOptions>, fn: (s: RunningServer) => Promise<void>): Promise<void> {
  const s = await startServer(options(extra));
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}
