// The Hugging Face hub cache layout, shared with huggingface_hub:
//   <cache>/models--<org>--<name>/blobs/<etag>              file contents, named by LFS sha256 (or git sha1)
//   <cache>/models--<org>--<name>/snapshots/<commit>/<file>  relative symlink to the blob (a copy where links fail)
//   <cache>/models--<org>--<name>/refs/<revision>           the commit a branch or tag resolved to
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, stat, symlink, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { HubError } from './errors.ts';

export type HubEnv = Readonly<Record<string, string | undefined>>;

const COMMIT_HASH = /^[0-9a-f]{40}$/;
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const BLOB_NAME = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return p;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/**
 * The hub cache directory, resolved like huggingface_hub: `HF_HUB_CACHE`, then the legacy `HUGGINGFACE_HUB_CACHE`,
 * then `$HF_HOME/hub`, with `HF_HOME` defaulting to `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`.
 */
export function hubCacheDir(env: HubEnv = process.env): string {
  const direct = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  if (direct) return expandHome(direct);
  const home = nonEmpty(env.HF_HOME) ?? join(nonEmpty(env.XDG_CACHE_HOME) ?? join(homedir(), '.cache'), 'huggingface');
  return join(expandHome(home), 'hub');
}

/** True for a full 40-hex commit id (which, unlike a branch, never moves). */
export function isCommitHash(revision: string): boolean {
  return COMMIT_HASH.test(revision);
}

/** Checks a repository id: `name` or `org/name`, no path tricks. */
export function validateRepo(repo: string): void {
  const parts = repo.split('/');
  if (parts.length > 2 || !parts.every((p) => REPO_PART.test(p) && !p.includes('--') && !p.endsWith('.'))) {
    throw new HubError('ARGUMENT', `invalid repository id ${JSON.stringify(repo)} (expected "org/name")`);
  }
}

function validateRelative(what: string, value: string): void {
  const parts = value.split('/');
  const bad = value === '' || value.includes('\\') || value.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..');
  if (bad) throw new HubError('ARGUMENT', `invalid ${what} ${JSON.stringify(value)}`);
}

/** Checks a file name inside a repository (`a/b.bin` is fine, `../x` and `/x` are not). */
export function validateFilename(filename: string): void {
  validateRelative('file name', filename);
}

/** Checks a revision (branch, tag, `refs/pr/N` or commit id) for use as a path below `refs/`. */
export function validateRevision(revision: string): void {
  validateRelative('revision', revision);
}

/** `models--org--name`, the folder name huggingface_hub uses for a model repository. */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}

export function repoCacheDir(cacheDir: string, repo: string): string {
  return join(cacheDir, repoFolderName(repo));
}

/** The blob of a file; `etag` must be its hash (sha256 or git sha1), never a path. */
export function blobPath(cacheDir: string, repo: string, etag: string): string {
  if (!BLOB_NAME.test(etag)) throw new HubError('ARGUMENT', `invalid blob name ${JSON.stringify(etag)} (expected a sha256 or git sha1)`);
  return join(repoCacheDir(cacheDir, repo), 'blobs', etag);
}

/** The snapshot path of a file; `commit` is a commit id (or a revision name with no recorded ref), never a path. */
export function snapshotPath(cacheDir: string, repo: string, commit: string, filename: string): string {
  validateRelative('snapshot folder', commit);
  validateFilename(filename);
  return join(repoCacheDir(cacheDir, repo), 'snapshots', commit, ...filename.split('/'));
}

export function refPath(cacheDir: string, repo: string, revision: string): string {
  return join(repoCacheDir(cacheDir, repo), 'refs', ...revision.split('/'));
}

/** The commit recorded for a branch or tag, or undefined when none is cached (or the ref is not a commit id). */
export async function readRef(cacheDir: string, repo: string, revision: string): Promise<string | undefined> {
  try {
    const text = (await readFile(refPath(cacheDir, repo, revision), 'utf8')).trim();
    return isCommitHash(text) ? text : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return undefined;
    }
    throw e;
  }
}

/** Records which commit a branch or tag points to (no-op for a commit id, as in huggingface_hub). */
export async function writeRef(cacheDir: string, repo: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  if ((await readRef(cacheDir, repo, revision)) === commit) return;
  const path = refPath(cacheDir, repo, revision);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, Buffer.from(commit, 'utf8'), { overwrite: true });
}

/**
 * The snapshot folder a revision maps to: the commit itself, the commit recorded in `refs/<revision>`, or else the
 * revision name (the folder huggingface_hub's `try_to_load_from_cache` looks in when no ref is recorded).
 */
export async function snapshotCommit(cacheDir: string, repo: string, revision: string): Promise<string> {
  if (isCommitHash(revision)) return revision;
  return (await readRef(cacheDir, repo, revision)) ?? revision;
}

/** Where a file of a revision lives (or would live) in the cache. */
export async function cachedFileTarget(cacheDir: string, repo: string, filename: string, revision: string): Promise<string> {
  return snapshotPath(cacheDir, repo, await snapshotCommit(cacheDir, repo, revision), filename);
}

/** Size of a regular file (following symlinks), or undefined when there is none. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw e;
  }
}

/** The cached path of a file at a revision, without touching the network; undefined when it is not cached. */
export async function findCachedFile(cacheDir: string, repo: string, filename: string, revision = 'main'): Promise<string | undefined> {
  validateRepo(repo);
  validateFilename(filename);
  validateRevision(revision);
  const path = await cachedFileTarget(cacheDir, repo, filename, revision);
  return (await fileSize(path)) === undefined ? undefined : path;
}

export type SymlinkFn = (target: string, path: string) => Promise<void>;

function tempSibling(path: string): string {
  return join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Points `pointer` (a snapshot path) at `blob` with a relative symlink, replacing whatever was there atomically.
 * Where symlinks cannot be made (some Windows and network file systems), the blob is copied instead.
 * Returns how the pointer was made.
 */
export async function linkSnapshot(blob: string, pointer: string, makeSymlink: SymlinkFn = (t, p) => symlink(t, p)): Promise<'symlink' | 'copy'> {
  await mkdir(dirname(pointer), { recursive: true });
  const tmp = tempSibling(pointer);
  try {
    try {
      await makeSymlink(relative(dirname(pointer), blob), tmp);
      await rename(tmp, pointer);
      return 'symlink';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EACCES') {
        throw e;
      }
    }
    await unlink(tmp).catch(() => undefined);
    await copyFile(blob, tmp);
    await rename(tmp, pointer);
    return 'copy';
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
