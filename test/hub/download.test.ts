// hubDownload against a local hub + CDN on 127.0.0.1: fresh download, cache hits without requests, resume with
// Range after a cut connection, a server ignoring Range, corrupted bytes, offline mode and an unreachable endpoint.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { hubDownload, type HubDownloadOptions } from '../../src/hub/download.ts';
import { HubError } from '../../src/hub/errors.ts';
import { FakeHub, closedPort, gitSha1Hex, sha256Hex, hubOptions, hubRejection } from './hub-server.ts';

const REPO = 'acme/clip-test';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const WEIGHTS = randomBytes(3 * 1024 * 1024 + 517);
const WEIGHTS_SHA = sha256Hex(WEIGHTS);
const CONFIG = Buffer.from(JSON.stringify({ model_type: 'clip', projection_dim: 768 }));
const CUT = 1024 * 1024;

let hub: FakeHub;
let cache: string;

before(async () => {
  hub = await new FakeHub(REPO, COMMIT, {
    'weights.safetensors': { data: WEIGHTS, lfs: true },
    'sub/config.json': { data: CONFIG, lfs: false },
  }).start();
});
after(async () => {
  await hub.stop();
});
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'mvfa-hub-'));
  hub.requests.length = 0;
  hub.cdnBehaviour = {};
  hub.hubStatus = undefined;
});
afterEach(() => {
  rmSync(cache, { recursive: true, force: true });
});

const repoDir = (): string => join(cache, 'models--acme--clip-test');
const snapshot = (rev: string, file: string): string => join(repoDir(), 'snapshots', rev, ...file.split('/'));
const blob = (name: string): string => join(repoDir(), 'blobs', name);

function opts(extra: Partial<HubDownloadOptions> = {}): HubDownloadOptions {
  return hubOptions(hub, REPO, cache, extra);
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => join(d.parentPath, d.name));
}

test('fresh download: snapshot symlink to the sha256 blob, refs/main, progress, token kept off the CDN', async () => {
  const progress: Array<[number, number | undefined]> = [];
  const path = await hubDownload(opts({ token: 'hf_secret', onProgress: (r, t) => progress.push([r, t]) }));

  assert.equal(path, snapshot(COMMIT, 'weights.safetensors'));
  assert.ok(readFileSync(path).equals(WEIGHTS));
  assert.ok(lstatSync(path).isSymbolicLink());
  assert.equal(readlinkSync(path), join('..', '..', 'blobs', WEIGHTS_SHA));
  assert.ok(readFileSync(blob(WEIGHTS_SHA)).equals(WEIGHTS));
  assert.equal(readFileSync(join(repoDir(), 'refs', 'main'), 'utf8'), COMMIT);
  assert.equal(existsSync(blob(`${WEIGHTS_SHA}.incomplete`)), false);

  assert.deepEqual(progress.at(-1), [WEIGHTS.length, WEIGHTS.length]);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] >= progress[i - 1][0]);

  const hubReqs = hub.requests.filter((r) => r.server === 'hub');
  const cdnReqs = hub.requests.filter((r) => r.server === 'cdn');
  assert.deepEqual(
    hubReqs.map((r) => [r.method, r.path]),
    [['HEAD', `/${REPO}/resolve/main/weights.safetensors`]],
  );
  assert.equal(hubReqs[0].authorization, 'Bearer hf_secret');
  assert.equal(cdnReqs.length, 1);
  assert.equal(cdnReqs[0].method, 'GET');
  assert.equal(cdnReqs[0].authorization, undefined);
  assert.equal(cdnReqs[0].range, undefined);
});

test('a cached file is returned by the second call with no request', async () => {
  const first = await hubDownload(opts());
  const before = hub.requests.length;
  const second = await hubDownload(opts());
  assert.equal(second, first);
  assert.equal(hub.requests.length, before);
  // A commit-pinned revision resolves from the snapshot folder directly, also without a request.
  const pinned = await hubDownload(opts({ revision: COMMIT }));
  assert.equal(pinned, first);
  assert.equal(hub.requests.length, before);
});

test('an interrupted transfer keeps the partial file and the next call resumes it with Range', async () => {
  hub.cdnBehaviour = { cutAfter: CUT, cuts: 1 };
  const err = await hubRejection(hubDownload(opts()));
  assert.equal(err.code, 'INTERRUPTED');
  assert.match(err.message, /broke off after 1048576 of 3146245 bytes/);
  assert.equal(statSync(blob(`${WEIGHTS_SHA}.incomplete`)).size, CUT);
  assert.equal(existsSync(snapshot(COMMIT, 'weights.safetensors')), false);
  assert.equal(existsSync(blob(WEIGHTS_SHA)), false);

  const progress: number[] = [];
  const path = await hubDownload(opts({ onProgress: (r) => progress.push(r) }));
  const gets = hub.requests.filter((r) => r.server === 'cdn');
  assert.equal(gets.length, 2);
  assert.equal(gets[0].range, undefined);
  assert.equal(gets[1].range, `bytes=${CUT}-`);
  assert.equal(progress[0], CUT);
  assert.ok(readFileSync(path).equals(WEIGHTS));
  assert.equal(existsSync(blob(`${WEIGHTS_SHA}.incomplete`)), false);
});

test('retries inside one call resume after a cut connection', async () => {
  hub.cdnBehaviour = { cutAfter: CUT, cuts: 2 };
  const path = await hubDownload(opts({ retries: 3 }));
  assert.ok(readFileSync(path).equals(WEIGHTS));
  const ranges = hub.requests.filter((r) => r.server === 'cdn').map((r) => r.range);
  assert.deepEqual(ranges, [undefined, `bytes=${CUT}-`, `bytes=${2 * CUT}-`]);
});

test('a server that ignores Range (200) restarts the file from the first byte', async () => {
  hub.cdnBehaviour = { cutAfter: CUT, cuts: 1 };
  await hubRejection(hubDownload(opts()));
  hub.cdnBehaviour = { ignoreRange: true };
  const path = await hubDownload(opts());
  const gets = hub.requests.filter((r) => r.server === 'cdn');
  assert.equal(gets.at(-1)?.range, `bytes=${CUT}-`);
  assert.ok(readFileSync(path).equals(WEIGHTS));
});

test('corrupted bytes are rejected with a clear error and nothing is kept', async () => {
  hub.cdnBehaviour = { corrupt: true };
  const err = await hubRejection(hubDownload(opts()));
  assert.equal(err.code, 'INTEGRITY');
  assert.match(err.message, /sha256 mismatch/);
  assert.ok(err.message.includes(WEIGHTS_SHA));
  assert.deepEqual(listFiles(join(repoDir(), 'snapshots')), []);
  assert.deepEqual(listFiles(join(repoDir(), 'blobs')), []);
});

test('an expected sha256 that disagrees with the server ETag fails before any byte is fetched', async () => {
  const wrong = 'ab'.repeat(32);
  const err = await hubRejection(hubDownload(opts({ expectedSha256: wrong })));
  assert.equal(err.code, 'INTEGRITY');
  assert.ok(err.message.includes(wrong) && err.message.includes(WEIGHTS_SHA));
  assert.equal(hub.count('cdn'), 0);
});

test('expected sha256 and size that match are accepted', async () => {
  const path = await hubDownload(opts({ expectedSha256: WEIGHTS_SHA.toUpperCase(), expectedSize: WEIGHTS.length }));
  assert.ok(readFileSync(path).equals(WEIGHTS));
});

test('a small (non-LFS) file is verified against its git blob sha1 ETag', async () => {
  const path = await hubDownload(opts({ filename: 'sub/config.json' }));
  assert.equal(path, snapshot(COMMIT, 'sub/config.json'));
  assert.ok(readFileSync(path).equals(CONFIG));
  assert.equal(readlinkSync(path), join('..', '..', '..', 'blobs', gitSha1Hex(CONFIG)));
  assert.equal(hub.count('cdn'), 0);
});

test('HF_HUB_OFFLINE=1: a cached file is returned, a missing one is named with its URL and target path', async () => {
  const online = await hubDownload(opts());
  hub.requests.length = 0;
  const offlineEnv = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' };
  assert.equal(await hubDownload(opts({ env: offlineEnv })), online);

  const err = await hubRejection(hubDownload(opts({ env: offlineEnv, filename: 'other.safetensors' })));
  assert.equal(err.code, 'OFFLINE_NOT_CACHED');
  const url = `${hub.endpoint}/${REPO}/resolve/main/other.safetensors`;
  const target = snapshot(COMMIT, 'other.safetensors');
  assert.ok(err.message.includes(`Download ${url} and save it as ${target}`), err.message);
  assert.equal(hub.requests.length, 0);
});

test('an unreachable endpoint names the URL and the path; saving the file there makes it resolve', async () => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  const err = await hubRejection(hubDownload(opts({ endpoint })));
  assert.equal(err.code, 'UNREACHABLE');
  const url = `${endpoint}/${REPO}/resolve/main/weights.safetensors`;
  const target = snapshot('main', 'weights.safetensors');
  assert.ok(err.message.startsWith(`Cannot reach ${endpoint}`), err.message);
  assert.ok(err.message.includes(`Download ${url} and save it as ${target}`), err.message);
  assert.equal(err.url, url);
  assert.equal(err.target, target);

  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, WEIGHTS);
  assert.equal(await hubDownload(opts({ endpoint })), target);
  assert.equal(await hubDownload(opts({ env: { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: 'true' } })), target);
});

test('hub error statuses are reported, not mistaken for a missing network', async () => {
  const missing = await hubRejection(hubDownload(opts({ filename: 'nope.bin' })));
  assert.equal(missing.code, 'HTTP');
  assert.equal(missing.status, 404);
  assert.match(missing.message, /not found/);
  hub.hubStatus = 401;
  const denied = await hubRejection(hubDownload(opts()));
  assert.equal(denied.status, 401);
  assert.match(denied.message, /HF_TOKEN/);
});

test('a cached file of the wrong size is refused when the size is known', async () => {
  const target = snapshot(COMMIT, 'weights.safetensors');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, WEIGHTS.subarray(0, 100));
  const err = await hubRejection(hubDownload(opts({ revision: COMMIT, expectedSize: WEIGHTS.length })));
  assert.equal(err.code, 'CACHE');
  assert.ok(err.message.includes(target));
  assert.equal(hub.requests.length, 0);
});

test('invalid arguments are refused before any request', async () => {
  for (const bad of [{ repo: '../etc' }, { filename: '../x' }, { revision: 'a/../../b' }, { expectedSha256: 'xyz' }]) {
    const err = await hubRejection(hubDownload(opts(bad)));
    assert.equal(err.code, 'ARGUMENT');
  }
  assert.equal(hub.requests.length, 0);
});
