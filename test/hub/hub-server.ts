// A local stand-in for the Hugging Face hub and its CDN, on 127.0.0.1 with ephemeral ports. The hub answers
// `/{repo}/resolve/{revision}/{file}` like huggingface.co: LFS files with a 302 to the CDN carrying X-Repo-Commit,
// X-Linked-Etag (sha256) and X-Linked-Size; small files directly with their git blob sha1 as ETag.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type HubDownloadOptions } from '../../src/hub/download.ts';
import { HubError } from '../../src/hub/errors.ts';

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

export interface CdnBehaviour {
  /** Destroy the connection after this many body bytes (for the next `cuts` GETs). */
  cutAfter?: number;
  cuts?: number;
  /** Answer ranged requests with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Send wrong bytes (one byte flipped in the middle) under the right headers. */
  corrupt?: boolean;
  /** Send the body in 64 KiB pieces with this pause (ms) between them, so that two downloads overlap. */
  throttleMs?: number;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function gitSha1Hex(data: Uint8Array): string {
  return createHash('sha1').update(`blob ${data.byteLength}\0`).update(data).digest('hex');
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await listen(s);
  const port = (s.address() as AddressInfo).port;
  await close(s);
  return port;
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  cdnBehaviour: CdnBehaviour = {};
  /** Status to answer every resolve request with instead (e.g. 404, 401). */
  hubStatus: number | undefined;
  /** Header values to send instead of the honest ones (a hostile or broken hub), e.g. X-Repo-Commit, X-Linked-Etag. */
  hubHeaders: Record<string, string> = {};
  /** Answers a resolve request itself when it returns true (redirects elsewhere, odd answers). */
  hubHook: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  endpoint = '';
  cdnBase = '';
  private readonly hub = createServer((q, s) => this.onHub(q, s));
  private readonly cdn = createServer((q, s) => this.onCdn(q, s));
  private readonly lfs = new Map<string, Buffer>();

  constructor(
    readonly repo: string,
    readonly commit: string,
    readonly files: Record<string, { data: Buffer; lfs: boolean }>,
  ) {
    for (const f of Object.values(files)) if (f.lfs) this.lfs.set(sha256Hex(f.data), f.data);
  }

  async start(): Promise<this> {
    this.endpoint = await listen(this.hub);
    this.cdnBase = await listen(this.cdn);
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all([close(this.hub), close(this.cdn)]);
  }

  count(server: 'hub' | 'cdn'): number {
    return this.requests.filter((r) => r.server === server).length;
  }

  private record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.requests.push({
      server,
      method: req.method ?? '',
      path: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
  }

  private onHub(req: IncomingMessage, res: ServerResponse): void {
    this.record('hub', req);
    if (this.hubHook?.(req, res)) return;
    const prefix = `/${this.repo}/resolve/`;
    const url = new URL(req.url ?? '/', this.endpoint);
    const rest = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : undefined;
    const slash = rest?.indexOf('/') ?? -1;
    const revision = rest !== undefined && slash > 0 ? decodeURIComponent(rest.slice(0, slash)) : undefined;
    const filename = rest !== undefined && slash > 0 ? decodeURIComponent(rest.slice(slash + 1)) : undefined;
    const file = filename !== undefined ? this.files[filename] : undefined;
    const common = { 'X-Repo-Commit': this.commit, 'Content-Type': 'text/plain' };
    const hostile = this.hubHeaders;
    if (this.hubStatus !== undefined) {
      res.writeHead(this.hubStatus, common).end('error');
      return;
    }
    if (revision === undefined || (revision !== 'main' && revision !== this.commit) || file === undefined) {
      res.writeHead(404, { ...common, 'X-Error-Code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    if (file.lfs) {
      const sha = sha256Hex(file.data);
      const body = `Found. Redirecting to ${this.cdnBase}/repos/ab/${sha}`;
      res.writeHead(302, {
        ...common,
        'X-Linked-Etag': `"${sha}"`,
        'X-Linked-Size': String(file.data.byteLength),
        ETag: `"${sha}"`,
        Location: `${this.cdnBase}/repos/ab/${sha}?response-content-disposition=attachment`,
        'Content-Length': String(Buffer.byteLength(body)),
        ...hostile,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(200, {
      ...common,
      ETag: `"${gitSha1Hex(file.data)}"`,
      'Content-Length': String(file.data.byteLength),
      'Accept-Ranges': 'bytes',
      ...hostile,
    });
    res.end(req.method === 'HEAD' ? undefined : file.data);
  }

  private onCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record('cdn', req);
    const sha = new URL(req.url ?? '/', this.cdnBase).pathname.split('/').pop() ?? '';
    const stored = this.lfs.get(sha);
    if (stored === undefined) {
      res.writeHead(404).end();
      return;
    }
    const b = this.cdnBehaviour;
    let data = stored;
    if (b.corrupt) {
      data = Buffer.from(stored);
      data[data.length >> 1] ^= 0xff;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !b.ignoreRange ? Number(m[1]) : 0;
    if (start > data.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
      return;
    }
    const body = data.subarray(start);
    const headers: Record<string, string> = {
      'Content-Length': String(body.length),
      'Accept-Ranges': 'bytes',
      ETag: `"${sha}"`,
      'Content-Type': 'application/octet-stream',
    };
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (b.cutAfter !== undefined && (b.cuts ?? 1) > 0 && b.cutAfter < body.length) {
      b.cuts = (b.cuts ?? 1) - 1;
      // Send the first bytes, give the client time to store them, then drop the connection mid-body.
      res.write(body.subarray(0, b.cutAfter), () => setTimeout(() => res.socket?.destroy(), 150));
      return;
    }
    if (b.throttleMs !== undefined) {
      const pause = b.throttleMs;
      const piece = (at: number): void => {
        if (res.destroyed) return;
        if (at >= body.length) {
          res.end();
          return;
        }
        res.write(body.subarray(at, at + 65536), () => setTimeout(() => piece(at + 65536), pause));
      };
      piece(0);
      return;
    }
    res.end(body);
  }
}

/** Download options against a FakeHub: `filename` of `repo` into the cache folder `cache`, no retries, short timeouts. */
export function hubOptions(hub: FakeHub, repo: string, cache: string, extra: Partial<HubDownloadOptions> = {}): HubDownloadOptions {
  return {
    repo,
    filename: 'weights.safetensors',
    endpoint: hub.endpoint,
    env: { HF_HUB_CACHE: cache },
    timeoutMs: 5000,
    retries: 0,
    retryDelayMs: 10,
    ...extra,
  };
}

/** The HubError a download (or any promise) rejects with; fails the test when it resolves or rejects otherwise. */
export async function hubRejection(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HubError, `expected a HubError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the download to fail');
}
