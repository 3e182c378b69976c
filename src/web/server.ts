// `mvfa serve`: a local web page and JSON API over node:http. Routes are an exact table (plus one pattern for
// result images with random hex ids); nothing is ever read from disk on request.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { HttpError, contentSecurityPolicy, pathOf, securityHeaders, send, sendError } from './http.ts';
import { ModelHost, type ModelHostOptions } from './model-host.ts';
import { renderPage } from './page.ts';
import { WorkQueue } from './queue.ts';
import { ResultStore } from './results.ts';
import { Api, type Handler } from './routes.ts';

export interface ServeOptions extends ModelHostOptions {
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Largest image upload in bytes (default 20 MB). */
  maxUploadBytes?: number;
  /** Most predictions waiting or running (default 8). */
  queue?: number;
  /** Time for one request, upload and computation together (default 120 s). */
  timeoutMs?: number;
  /** Most epochs a training request may ask for (default 20). */
  maxEpochs?: number;
  /** Most images of each kind in a training request (default 64). */
  maxTrainFiles?: number;
  /** Most overlay images kept in memory (default 256). */
  maxResultImages?: number;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  server: Server;
  model: ModelHost;
  queue: WorkQueue;
  results: ResultStore;
  api: Api;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const RESULT_PNG = /^\/api\/results\/([0-9a-f]{32})\.png$/;

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const maxUpload = o.maxUploadBytes ?? 20 * 1024 * 1024;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const log = o.log ?? (() => {});
  const model = new ModelHost(o);
  const queue = new WorkQueue(o.queue ?? 8);
  const results = new ResultStore(o.maxResultImages ?? 256);
  const api = new Api(
    model,
    queue,
    results,
    { maxUploadBytes: maxUpload, maxTrainBytes: 8 * maxUpload, maxTrainFiles: o.maxTrainFiles ?? 64, maxEpochs: o.maxEpochs ?? 20, timeoutMs },
    log,
  );
  const page = renderPage();
  const headers = securityHeaders(contentSecurityPolicy({ scriptSrc: [page.scriptHash], styleSrc: [page.styleHash] }));

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/': { GET: async (_req, res) => send(res, 200, 'text/html; charset=utf-8', page.html) },
    '/favicon.ico': { GET: async (_req, res) => send(res, 204, 'image/x-icon', '') },
    '/api/status': { GET: api.status },
    '/api/model': { POST: api.model },
    '/api/train': { POST: api.train, GET: api.trainStatus },
    '/api/adapters': { GET: api.adapters },
    '/api/predict': { POST: api.predict },
    '/api/results.json': { GET: api.resultsJson },
    '/api/results.csv': { GET: api.resultsCsv },
  };

  let port = 0;
  const allowedHosts = (): Set<string> =>
    new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...(host.startsWith('127.') ? [`${host}:${port}`] : [])]);

  const dispatch = async (req: IncomingMessage, res: ServerResponse, started: number): Promise<void> => {
    // Requests for a loopback server must name it (defeats DNS rebinding from web pages).
    if (isLoopback(host) && !allowedHosts().has((req.headers.host ?? '').toLowerCase())) throw new HttpError(403, 'unexpected Host header');
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      // No CORS: state-changing requests from other sites are refused.
      const origin = req.headers.origin;
      if ((origin && origin !== `http://${req.headers.host}`) || req.headers['sec-fetch-site'] === 'cross-site')
        throw new HttpError(403, 'requests from other web sites are refused');
    }
    const path = pathOf(req.url ?? '/');
    const m = RESULT_PNG.exec(path);
    if (m) {
      if (method !== 'GET') throw new HttpError(405, 'use GET', { Allow: 'GET' });
      return api.resultPng(res, m[1]);
    }
    const table = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!table) throw new HttpError(404, 'not found');
    const h = table[method];
    if (!h) throw new HttpError(405, `use ${Object.keys(table).join(' or ')}`, { Allow: Object.keys(table).join(', ') });
    await h(req, res, started);
  };

  const server = createServer(
    { requestTimeout: timeoutMs + 10_000, headersTimeout: Math.min(30_000, timeoutMs + 5_000), maxHeaderSize: 16 * 1024 },
    (req, res) => {
      const started = Date.now();
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      dispatch(req, res, started).catch((e: unknown) => {
        if (!(e instanceof HttpError)) log(`error in ${req.method} ${pathOf(req.url ?? '')}: ${e instanceof Error ? e.message : String(e)}`);
        try {
          sendError(res, e);
        } catch {
          res.destroy();
        }
      });
    },
  );
  server.maxHeadersCount = 64;
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8765, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  server.on('error', (e) => log(`server error: ${e.message}`));
  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await queue.drain();
    await model.close();
  };
  try {
    if (o.clipPaths.length) {
      api.activity = 'loading the model';
      await queue.submit('task', () => model.init()).result;
    }
  } catch (e) {
    await close();
    throw e;
  } finally {
    api.activity = null;
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${port}/`, host, port, server, model, queue, results, api, close };
}
