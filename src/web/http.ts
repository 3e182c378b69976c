// Small HTTP helpers for the local web server: errors with status codes, security headers, JSON replies,
// and bounded reading of request bodies.
import { type IncomingMessage, type ServerResponse } from 'node:http';

/** An error that becomes an HTTP reply with this status and a plain-words message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Error classes whose messages describe a problem with the user's input (bad file, bad setting): 400. */
const INPUT_ERRORS = new Set([
  'ImageDecodeError',
  'DicomError',
  'DatasetError',
  'AdapterFileError',
  'ClipWeightsError',
  'WeightFileError',
  'GraphError',
  'UsageError',
]);

/** Status and message for any thrown value. */
export function describeError(e: unknown): { status: number; message: string; headers: Record<string, string> } {
  if (e instanceof HttpError) return { status: e.status, message: e.message, headers: e.headers };
  const err = e instanceof Error ? e : new Error(String(e));
  if (INPUT_ERRORS.has(err.name)) return { status: 400, message: err.message, headers: {} };
  return { status: 500, message: `internal error: ${err.message}`, headers: {} };
}

export interface SecurityPolicy {
  /** Sources allowed for inline scripts and styles, e.g. `'sha256-…'`. */
  scriptSrc: string[];
  styleSrc: string[];
}

export function contentSecurityPolicy(p: SecurityPolicy): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${p.scriptSrc.join(' ')}`.trim(),
    `style-src 'self' ${p.styleSrc.join(' ')}`.trim(),
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** Headers sent with every reply. No CORS headers are ever sent. */
export function securityHeaders(csp: string): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
    'Cache-Control': 'no-store',
  };
}

export function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(buf.length) });
  res.end(buf);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, headers);
}

export function sendError(res: ServerResponse, e: unknown): void {
  const { status, message, headers } = describeError(e);
  sendJson(res, status, { error: message, status }, headers);
}

/** The media type of a request without parameters, lower-case ('' when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MB` : `${Math.ceil(n / 1024)} KB`;
}

export function tooLarge(limit: number, what = 'the upload'): HttpError {
  return new HttpError(413, `${what} is too large: the limit is ${formatBytes(limit)} (start the server with a larger --max-upload-mb to change it)`);
}

/** Rejects a request whose declared Content-Length is over the limit before anything is read. */
export function checkDeclaredLength(req: IncomingMessage, limit: number, what?: string): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit, what);
}

/**
 * Reads a whole request body, at most `limit` bytes (413 beyond), within `timeoutMs` (408 beyond). On an error the
 * rest of the body is left for the server to discard.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null, value?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) {
        req.resume();
        reject(err);
      } else resolve(value!);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(c);
    };
    const onEnd = () => finish(null, Buffer.concat(chunks, size));
    const onError = (e: Error) => finish(new HttpError(400, `the upload broke off: ${e.message}`));
    const onAborted = () => finish(new HttpError(400, 'the upload broke off'));
    const timer = setTimeout(() => finish(new HttpError(408, `the upload did not arrive within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** Parses a small JSON object body. */
export async function readJsonObject(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Record<string, unknown>> {
  if (mediaType(req) !== 'application/json') throw new HttpError(415, 'send a JSON body (Content-Type: application/json)');
  const body = await readBody(req, limit, timeoutMs);
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Query parameters of a request URL (path part not decoded or used). */
export function queryOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

/** Path part of a request URL, exactly as sent (no decoding, no normalisation). */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
