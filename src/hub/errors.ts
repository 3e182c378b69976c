// The one error type of the hub client: what went wrong, which URL, and where the file belongs on disk.

export type HubErrorCode =
  /** Offline mode is on and the file is not in the cache. */
  | 'OFFLINE_NOT_CACHED'
  /** The endpoint could not be reached (connection refused, DNS, timeout, 5xx) and the file is not cached. */
  | 'UNREACHABLE'
  /** The transfer broke off; the partial file is kept and the next call resumes it. */
  | 'INTERRUPTED'
  /** The server answered with an error status (401/403/404/...). */
  | 'HTTP'
  /** The server's answer lacks what the hub protocol promises (commit, ETag), or is inconsistent. */
  | 'BAD_RESPONSE'
  /** The bytes do not match the expected size or digest; nothing was stored. */
  | 'INTEGRITY'
  /** Invalid arguments (repository id, file name, revision). */
  | 'ARGUMENT'
  /** A cached file is unusable (for instance of the wrong size). */
  | 'CACHE';

export interface HubErrorDetails {
  /** The resolve URL of the file, when known. */
  url?: string;
  /** Where the file belongs in the cache (the snapshot path), when known. */
  target?: string;
  /** HTTP status, for code 'HTTP'. */
  status?: number;
  cause?: unknown;
}

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly url: string | undefined;
  readonly target: string | undefined;
  readonly status: number | undefined;
  constructor(code: HubErrorCode, message: string, details: HubErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'HubError';
    this.code = code;
    this.url = details.url;
    this.target = details.target;
    this.status = details.status;
  }
}

/** Text for the manual way out: which URL to fetch and where to save it so the cache lookup finds it. */
export function manualDownloadHint(url: string, target: string): string {
  return `Download ${url} and save it as ${target}`;
}

/** A short description of a low-level failure (fetch wraps the interesting part in `cause`). */
export function describeFailure(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const parts: string[] = [e.message];
  let cause: unknown = e.cause;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    const code = (cause as NodeJS.ErrnoException).code;
    parts.push(code && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message);
    cause = cause.cause;
  }
  return parts.join(': ');
}
