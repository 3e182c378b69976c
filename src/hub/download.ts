// hubDownload: one file of a Hugging Face model repository into the shared hub cache, verified, resumable,
// and usable offline once cached.
import { chmod, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  blobPath,
  cachedFileTarget,
  fileSize,
  findCachedFile,
  hubCacheDir,
  linkSnapshot,
  snapshotPath,
  validateFilename,
  validateRepo,
  validateRevision,
  writeRef,
  type HubEnv,
} from './cache.ts';
import { HubError, describeFailure, manualDownloadHint } from './errors.ts';
import { withFileLock } from './lock.ts';
import { DEFAULT_ENDPOINT, NetworkFailure, fetchFileMetadata, hubFileUrl, sameOrigin, withoutAuthorization, type FileMetadata } from './metadata.ts';
import { gitBlobSha1, transferResumable, type ProgressFn, type TransferResult } from './transfer.ts';

export interface HubDownloadOptions {
  /** Repository id, e.g. `timm/vit_large_patch14_clip_336.openai`. */
  repo: string;
  /** File inside the repository, e.g. `open_clip_model.safetensors`. */
  filename: string;
  /** Branch, tag or commit id. Default `main`. A commit id makes a cached file resolve with no request at all. */
  revision?: string;
  /** Hub address. Default `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated or private repositories. Default `$HF_TOKEN`. Never sent to the CDN. */
  token?: string;
  /** Known SHA-256 of the file (lower-case hex). Checked against the server's ETag and against the bytes. */
  expectedSha256?: string;
  /** Known size in bytes. Checked against the server's size and against the bytes. */
  expectedSize?: number;
  /** Cache root. Default from the environment (`HF_HUB_CACHE`, `HF_HOME/hub`, `~/.cache/huggingface/hub`). */
  cacheDir?: string;
  /** Never touch the network. Default: `HF_HUB_OFFLINE` is 1/ON/YES/TRUE. */
  offline?: boolean;
  /** Environment to read the defaults from. Default `process.env`. */
  env?: HubEnv;
  /** Called as bytes arrive; `received` counts resumed bytes too, `total` is undefined when unknown. */
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** Longest wait for an answer or for the next chunk of data, in ms. Default 10 000 (as huggingface_hub). */
  timeoutMs?: number;
  /** Further attempts (each resuming) after the connection breaks mid-transfer. Default 3. */
  retries?: number;
  /** Base delay between those attempts, in ms (grows linearly). Default 1000. */
  retryDelayMs?: number;
  /** Called when another download of the same file (this process or another) holds its lock and this one waits. */
  onLockWait?: (holder: string) => void;
}

const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);
const SHA256_HEX = /^[0-9a-f]{64}$/;
const SHA1_HEX = /^[0-9a-f]{40}$/;

function envFlag(v: string | undefined): boolean {
  return v !== undefined && TRUE_VALUES.has(v.trim().toUpperCase());
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

interface Resolved {
  repo: string;
  filename: string;
  revision: string;
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  offline: boolean;
  expectedSha256: string | undefined;
  expectedSize: number | undefined;
  url: string;
}

function resolveOptions(opts: HubDownloadOptions): Resolved {
  const env = opts.env ?? process.env;
  const revision = opts.revision ?? 'main';
  validateRepo(opts.repo);
  validateFilename(opts.filename);
  validateRevision(revision);
  const expectedSha256 = opts.expectedSha256?.trim().toLowerCase();
  if (expectedSha256 !== undefined && !SHA256_HEX.test(expectedSha256)) {
    throw new HubError('ARGUMENT', `expectedSha256 must be 64 hex digits, got ${JSON.stringify(opts.expectedSha256)}`);
  }
  if (opts.expectedSize !== undefined && !(Number.isSafeInteger(opts.expectedSize) && opts.expectedSize >= 0)) {
    throw new HubError('ARGUMENT', `expectedSize must be a byte count, got ${opts.expectedSize}`);
  }
  const endpoint = (nonEmpty(opts.endpoint) ?? nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return {
    repo: opts.repo,
    filename: opts.filename,
    revision,
    endpoint,
    token: nonEmpty(opts.token) ?? nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN),
    cacheDir: opts.cacheDir ?? hubCacheDir(env),
    offline: opts.offline ?? (envFlag(env.HF_HUB_OFFLINE) || envFlag(env.TRANSFORMERS_OFFLINE)),
    expectedSha256,
    expectedSize: opts.expectedSize,
    url: hubFileUrl(endpoint, opts.repo, revision, opts.filename),
  };
}

async function checkedCached(path: string, r: Resolved): Promise<string> {
  const size = await fileSize(path);
  if (r.expectedSize !== undefined && size !== r.expectedSize) {
    throw new HubError('CACHE', `${path} has ${size} bytes but ${r.repo}/${r.filename} has ${r.expectedSize}; delete it (or replace it with ${r.url})`, {
      url: r.url,
      target: path,
    });
  }
  return path;
}

function checkMetadata(meta: FileMetadata, r: Resolved, target: string): void {
  if (r.expectedSha256 !== undefined && SHA256_HEX.test(meta.etag) && meta.etag !== r.expectedSha256) {
    throw new HubError(
      'INTEGRITY',
      `${r.url}: the server reports sha256 ${meta.etag} but ${r.expectedSha256} is expected ` +
        `(the file changed at this revision; pin a revision whose file matches)`,
      { url: r.url, target },
    );
  }
  if (r.expectedSize !== undefined && meta.size !== undefined && meta.size !== r.expectedSize) {
    throw new HubError('INTEGRITY', `${r.url}: the server reports ${meta.size} bytes but ${r.expectedSize} are expected`, {
      url: r.url,
      target,
    });
  }
}

/** Checks the finished transfer; on any mismatch the partial file is deleted and an error thrown. */
async function verify(got: TransferResult, meta: FileMetadata, r: Resolved, incomplete: string, target: string): Promise<void> {
  const size = r.expectedSize ?? meta.size;
  const fail = async (what: string): Promise<never> => {
    await removeQuietly(incomplete);
    throw new HubError('INTEGRITY', `${r.url}: ${what}; the download was discarded, nothing was stored`, {
      url: r.url,
      target,
    });
  };
  if (size !== undefined && got.size !== size) await fail(`received ${got.size} bytes, expected ${size}`);
  const sha256 = r.expectedSha256 ?? (SHA256_HEX.test(meta.etag) ? meta.etag : undefined);
  if (sha256 !== undefined) {
    if (got.sha256 !== sha256) await fail(`sha256 mismatch: got ${got.sha256}, expected ${sha256}`);
  } else if (SHA1_HEX.test(meta.etag)) {
    const sha1 = await gitBlobSha1(incomplete, got.size);
    if (sha1 !== meta.etag) await fail(`git blob sha1 mismatch: got ${sha1}, expected ${meta.etag}`);
  }
}

/**
 * Downloads one file of a hub model repository into the hub cache and returns its snapshot path
 * (`<cache>/models--org--name/snapshots/<commit>/<filename>`). A file already cached for the revision is returned
 * without any request. Offline (or when the hub cannot be reached) a cached file is returned, else the error says
 * which URL to fetch and where to save it. The bytes are checked against `expectedSha256`/`expectedSize` and the
 * server's ETag (the LFS sha256) before they are stored; a partial file is never returned.
 */
export async function hubDownload(opts: HubDownloadOptions): Promise<string> {
  const r = resolveOptions(opts);
  const cached = await findCachedFile(r.cacheDir, r.repo, r.filename, r.revision);
  if (cached !== undefined) return checkedCached(cached, r);
  const target = await cachedFileTarget(r.cacheDir, r.repo, r.filename, r.revision);
  if (r.offline) {
    throw new HubError(
      'OFFLINE_NOT_CACHED',
      `Offline mode is on (HF_HUB_OFFLINE) and ${r.repo}/${r.filename} (revision ${r.revision}) is not cached. ` + manualDownloadHint(r.url, target),
      { url: r.url, target },
    );
  }
  const headers: Record<string, string> = { 'User-Agent': `mvfa; node/${process.versions.node}` };
  if (r.token !== undefined) headers.Authorization = `Bearer ${r.token}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;

  let meta: FileMetadata;
  try {
    meta = await fetchFileMetadata(r.url, { headers, signal: opts.signal, timeoutMs }, target);
  } catch (e) {
    if (!(e instanceof NetworkFailure)) throw e;
    throw new HubError(
      'UNREACHABLE',
      `Cannot reach ${r.endpoint} (${describeFailure(e.cause)}) and ${r.repo}/${r.filename} is not cached. ` + manualDownloadHint(r.url, target),
      { url: r.url, target, cause: e },
    );
  }

  const pointer = snapshotPath(r.cacheDir, r.repo, meta.commit, r.filename);
  checkMetadata(meta, r, pointer);
  const blob = blobPath(r.cacheDir, r.repo, meta.etag);
  if ((await fileSize(blob)) === undefined) {
    await mkdir(dirname(blob), { recursive: true });
    // One download of a blob at a time: a second one waits, then finds the blob stored.
    await withFileLock(`${blob}.lock`, () => fetchBlob(r, meta, blob, pointer, headers, opts, timeoutMs), {
      signal: opts.signal,
      onWait: opts.onLockWait,
    });
  }
  await linkSnapshot(blob, pointer);
  await writeRef(r.cacheDir, r.repo, r.revision, meta.commit);
  return pointer;
}

/** GETs the bytes into `<blob>.incomplete` (resuming), verifies them and moves them into place; a no-op when the blob exists. */
async function fetchBlob(
  r: Resolved,
  meta: FileMetadata,
  blob: string,
  pointer: string,
  headers: Record<string, string>,
  opts: HubDownloadOptions,
  timeoutMs: number,
): Promise<void> {
  if ((await fileSize(blob)) !== undefined) return;
  const incomplete = `${blob}.incomplete`;
  const cdnHeaders = sameOrigin(meta.location, r.endpoint) ? headers : withoutAuthorization(headers);
  let got: TransferResult;
  try {
    got = await transferResumable({
      url: meta.location,
      displayUrl: r.url,
      headers: cdnHeaders,
      incompletePath: incomplete,
      expectedSize: r.expectedSize ?? meta.size,
      onProgress: opts.onProgress,
      signal: opts.signal,
      timeoutMs,
      retries: opts.retries ?? 3,
      retryDelayMs: opts.retryDelayMs ?? 1000,
    });
  } catch (e) {
    if (!(e instanceof NetworkFailure)) throw e;
    const have = (await fileSize(incomplete)) ?? 0;
    const size = r.expectedSize ?? meta.size;
    throw new HubError(
      'INTERRUPTED',
      `The download of ${r.url} broke off after ${have}${size === undefined ? '' : ` of ${size}`} bytes ` +
        `(${describeFailure(e.cause)}). The partial file ${incomplete} is kept; running again resumes it. ` +
        `Or: ${manualDownloadHint(r.url, pointer)}`,
      { url: r.url, target: pointer, cause: e },
    );
  }
  await verify(got, meta, r, incomplete, pointer);
  await chmod(incomplete, 0o644);
  await rename(incomplete, blob);
}
