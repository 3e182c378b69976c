// `mvfa serve`: a local web page and JSON API over node:http. Routes are an exact table (plus one pattern for
// result images with random hex ids); nothing is ever read from disk on request.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { allowedHostNames, hostAllowed, sameOriginRequest } from './host-check.ts';
import { HttpError, contentSecurityPolicy, pathOf, securityHeaders, send, sendError } from './http.ts';
import { ModelHost, type ModelHostOptions } from './model-host.ts';
import { renderPage } from './page.ts';
import { WorkQueue } from './queue.ts';
import { ResultStore } from './results.ts';
import { Api, type Handler } from './routes.ts';
import { ScratchDir } from './scratch.ts';

export { isLoopback } from './host-check.ts';

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
  /** Further host names requests may use (a DNS name of this machine, a proxy's name); see `allowedHostNames`. */
  allowHosts?: readonly string[];
  /** Where the private folder for uploaded training images is made (default the system's temporary folder). */
  scratchParent?: string;
  /** Called once the server listens, before the model has loaded (requests are answered from then on). */
  onListening?: (url: string) => void;
  /** The model holder (default: a `ModelHost` over these options). */
  model?: ModelHost;
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
  /** Host names requests may use. */
  allowedHosts: string[];
  /** The private folder for uploaded training images. */
  scratchDir: string;
  close(): Promise<void>;
}

const RESULT_PNG = /^\/api\/results\/([0-9a-f]{32})\.png$/;

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const maxUpload = o.maxUploadBytes ?? 20 * 1024 * 1024;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const log = o.log ?? (() => {});
  const model = o.model ?? new ModelHost(o);
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
  const hostNames = allowedHostNames(host, o.allowHosts ?? []);

  const dispatch = async (req: IncomingMessage, res: ServerResponse, started: number): Promise<void> => {
    // Requests must name this server by one of its own names (defeats DNS rebinding from web pages).
    if (!hostAllowed(req.headers.host, hostNames, port))
      throw new HttpError(403, `unexpected Host header: use one of ${[...hostNames].join(', ')} (start the server with --allow-host to add a name)`);
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      // No CORS: state-changing requests from other sites are refused.
      const origin = req.headers.origin;
      if ((origin !== undefined && !sameOriginRequest(origin, req.headers.host, port)) || req.headers['sec-fetch-site'] === 'cross-site')
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

  const { scratch } = await ScratchDir.create(o.scratchParent ?? tmpdir());
  api.scratchDir = scratch.path;

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

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 8765, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await scratch.remove();
    throw e;
  }
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/`;
  server.on('error', (e) => log(`server error: ${e.message}`));
  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await queue.drain();
    await model.close();
    await scratch.remove();
  };
  try {
    if (o.clipPaths.length) {
      const load = api.loadModel(() => model.init());
      o.onListening?.(url);
      await load.result;
    } else o.onListening?.(url);
  } catch (e) {
    await close();
    throw e;
  }
  return { url, host, port, server, model, queue, results, api, allowedHosts: [...hostNames], scratchDir: scratch.path, close };
}
