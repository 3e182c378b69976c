// HEAD of a hub resolve URL: commit, ETag (the LFS sha256 or the git blob sha1), size and download location.
import { HubError, describeFailure } from './errors.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const MAX_REDIRECTS = 10;

export interface FileMetadata {
  /** The commit the revision resolved to (`X-Repo-Commit`). */
  commit: string;
  /** `X-Linked-Etag` or `ETag` without quotes or `W/`: the sha256 of an LFS file, the git sha1 of a small one. */
  etag: string;
  /** `X-Linked-Size` or `Content-Length`, when sent. */
  size: number | undefined;
  /** Where to GET the bytes: the CDN address of a redirect, else the resolve URL. */
  location: string;
}

/** `{endpoint}/{repo}/resolve/{revision}/{filename}` with the same escaping as huggingface_hub's `hf_hub_url`. */
export function hubFileUrl(endpoint: string, repo: string, revision: string, filename: string): string {
  const path = filename.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** Same as huggingface_hub's `_normalize_etag`: drop a weak-validator prefix and the quotes. */
export function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  const v = etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return v === '' ? undefined : v;
}

function intHeader(v: string | null): number | undefined {
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/** Raised for failures that mean "the server cannot be reached" rather than "the server said no". */
export class NetworkFailure extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`${url}: ${describeFailure(cause)}`, { cause });
    this.name = 'NetworkFailure';
  }
}

/** Whether an exception thrown by fetch (or by reading a body) is a transport failure. */
export function isTransportError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'TimeoutError') return true;
  // fetch reports every transport problem (refused, reset, DNS, TLS, cut-off body) as a TypeError.
  return e instanceof TypeError && (e.message === 'fetch failed' || e.message === 'terminated' || e.cause !== undefined);
}

export interface RequestOptions {
  headers: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs: number;
}

/** `signal` combined with a deadline of `timeoutMs`. */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const t = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, t]) : t;
}

/** Turns a hub error status into a message a user can act on. */
export function httpStatusError(status: number, url: string, target: string | undefined): HubError {
  let why: string;
  if (status === 401 || status === 403) {
    why = 'access denied (a gated or private repository: set HF_TOKEN to a token with access)';
  } else if (status === 404) {
    why = 'not found (check the repository id, file name and revision)';
  } else if (status === 429) {
    why = 'rate limited by the server (retry later, or set HF_TOKEN)';
  } else {
    why = `the server answered ${status}`;
  }
  return new HubError('HTTP', `${url}: ${why}`, { url, target, status });
}

const COMMIT_HEX = /^[0-9a-f]{40}$/;
const HASH_HEX = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * The commit of an answer, checked: 40 hex digits (it names a folder of the cache, so nothing else may pass).
 */
export function checkedCommit(value: string | null, url: string, target: string | undefined): string {
  const commit = value?.trim().toLowerCase() ?? '';
  if (!COMMIT_HEX.test(commit)) {
    const shown =
      value === null || value.trim() === '' ? 'no X-Repo-Commit header (not a Hugging Face hub?)' : `X-Repo-Commit ${JSON.stringify(value.slice(0, 80))}`;
    throw new HubError('BAD_RESPONSE', `${url}: the answer has ${shown}; a commit id is 40 hex digits`, { url, target });
  }
  return commit;
}

/**
 * The ETag of an answer, checked: the sha256 of an LFS file or the git sha1 of a small one (it names the blob file
 * and is what the bytes are verified against, so nothing else may pass).
 */
export function checkedEtag(value: string | undefined, url: string, target: string | undefined): string {
  const etag = value?.toLowerCase() ?? '';
  if (!HASH_HEX.test(etag)) {
    const shown = value === undefined ? 'no ETag' : `the ETag ${JSON.stringify(value.slice(0, 80))}`;
    throw new HubError('BAD_RESPONSE', `${url}: the answer has ${shown}, not a sha256 or git sha1, so the file cannot be verified`, { url, target });
  }
  return etag;
}

function origin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * HEADs the resolve URL without following the CDN redirect, as huggingface_hub does: the redirect carries the
 * metadata of the linked LFS file. Redirects without hub headers (a renamed repository) are followed; the
 * `Authorization` header goes only to the origin of `url`, and once a redirect has left it, never again.
 */
export async function fetchFileMetadata(url: string, opts: RequestOptions, target?: string): Promise<FileMetadata> {
  let current = url;
  const home = origin(url);
  let headers: Record<string, string> = { ...opts.headers, 'Accept-Encoding': 'identity' };
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (origin(current) !== home) headers = withoutAuthorization(headers);
    let res: Response;
    try {
      res = await fetch(current, {
        method: 'HEAD',
        redirect: 'manual',
        headers,
        signal: withTimeout(opts.signal, opts.timeoutMs),
      });
    } catch (e) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw new NetworkFailure(current, e);
    }
    const commit = res.headers.get('x-repo-commit');
    const location = res.headers.get('location');
    const redirect = res.status >= 300 && res.status < 400;
    if (redirect && commit === null && location !== null) {
      current = new URL(location, current).toString();
      continue;
    }
    if (res.status >= 500) throw new NetworkFailure(current, new Error(`server error ${res.status}`));
    if (!redirect && !res.ok) throw httpStatusError(res.status, url, target);
    return {
      commit: checkedCommit(commit, url, target),
      etag: checkedEtag(normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag')), url, target),
      size: intHeader(res.headers.get('x-linked-size')) ?? (redirect ? undefined : intHeader(res.headers.get('content-length'))),
      location: redirect && location !== null ? new URL(location, current).toString() : current,
    };
  }
  throw new HubError('BAD_RESPONSE', `${url}: more than ${MAX_REDIRECTS} redirects`, { url, target });
}

/** The headers without `Authorization` (any spelling). */
export function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

/** Whether two URLs share scheme, host and port. */
export function sameOrigin(a: string, b: string): boolean {
  const o = origin(a);
  return o !== undefined && o === origin(b);
}
