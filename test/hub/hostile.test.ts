// A hostile or broken hub (#12 holes 8, 9 and the `.incomplete` race), on 127.0.0.1 only: a commit id or ETag that
// is a path, a redirect that carries the token to another origin, two downloads of one file at once, a stale lock.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { hubDownload, type HubDownloadOptions } from '../../src/hub/download.ts';
import { HubError } from '../../src/hub/errors.ts';
import { FakeHub, sha256Hex, hubOptions, hubRejection } from './hub-server.ts';

const REPO = 'acme/clip-test';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const WEIGHTS = randomBytes(3 * 1024 * 1024 + 101);
const SMALL = Buffer.from('{"small": true}\n');
const TOKEN = 'hf_secret_token_for_tests';

let hub: FakeHub;
let other: FakeHub;
let root: string;
let cache: string;

before(async () => {
  const files = { 'weights.safetensors': { data: WEIGHTS, lfs: true }, 'config.json': { data: SMALL, lfs: false } };
  hub = await new FakeHub(REPO, COMMIT, files).start();
  other = await new FakeHub(REPO, COMMIT, files).start();
});
after(async () => {
  await hub.stop();
  await other.stop();
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mvfa-hostile-hub-'));
  cache = join(root, 'cache');
  mkdirSync(cache);
  for (const h of [hub, other]) {
    h.requests.length = 0;
    h.cdnBehaviour = {};
    h.hubHeaders = {};
    h.hubHook = undefined;
  }
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function opts(extra: Partial<HubDownloadOptions> = {}): HubDownloadOptions {
  return hubOptions(hub, REPO, cache, extra);
}

/** Every path below `dir` (files, links and folders), relative to it. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

test('hole 8: an X-Repo-Commit that is a path is refused and nothing is written outside the cache', async () => {
  const victim = join(root, 'victim');
  mkdirSync(victim);
  writeFileSync(join(victim, 'weights.safetensors'), 'precious');
  // snapshots/<commit>/weights.safetensors with this commit is <root>/victim/weights.safetensors
  hub.hubHeaders = { 'X-Repo-Commit': '../../../victim' };
  const e = await hubRejection(hubDownload(opts()));
  assert.equal(e.code, 'BAD_RESPONSE');
  assert.match(e.message, /X-Repo-Commit/);
  assert.match(e.message, /40 hex/);
  assert.equal(readFileSync(join(victim, 'weights.safetensors'), 'utf8'), 'precious');
  assert.deepEqual(tree(root), ['cache', 'victim', join('victim', 'weights.safetensors')]);
  assert.equal(hub.count('cdn'), 0, 'no bytes are fetched for an answer that cannot be stored');
});

for (const [what, etag] of [
  ['..', '..'],
  ['a path', '../../../victim'],
  ['not a hash', 'not-a-hash'],
  ['a short hex', 'abcdef0123'],
] as const) {
  test(`hole 8: an ETag that is ${what} is refused before any byte is fetched`, async () => {
    hub.hubHeaders = { 'X-Linked-Etag': `"${etag}"`, ETag: `"${etag}"` };
    const e = await hubRejection(hubDownload(opts()));
    assert.equal(e.code, 'BAD_RESPONSE');
    assert.match(e.message, /ETag/);
    assert.deepEqual(tree(root), ['cache']);
    assert.equal(hub.count('cdn'), 0);
  });
}

test('hole 8: with no hash pinned the bytes are checked against the ETag; corrupt bytes are not stored', async () => {
  hub.cdnBehaviour = { corrupt: true };
  const e = await hubRejection(hubDownload(opts()));
  assert.equal(e.code, 'INTEGRITY');
  assert.equal(existsSync(join(cache, 'models--acme--clip-test', 'blobs', sha256Hex(WEIGHTS))), false);
  assert.equal(existsSync(join(cache, 'models--acme--clip-test', 'snapshots')), false);
});

test('hole 8: an upper-case hash ETag is the same hash (stored under its lower-case name)', async () => {
  const sha = sha256Hex(WEIGHTS);
  hub.hubHeaders = { 'X-Linked-Etag': `"${sha.toUpperCase()}"` };
  const path = await hubDownload(opts());
  assert.equal(createHash('sha256').update(readFileSync(path)).digest('hex'), sha);
  assert.ok(existsSync(join(cache, 'models--acme--clip-test', 'blobs', sha)));
});

test('hole 9: a HEAD redirect to another origin does not carry HF_TOKEN there; the same origin still gets it', async () => {
  hub.hubHook = (req, res) => {
    // A renamed repository: a redirect without hub headers, here to another origin.
    res.writeHead(301, { Location: `${other.endpoint}${req.url ?? '/'}` }).end();
    return true;
  };
  const path = await hubDownload(opts({ env: { HF_HUB_CACHE: cache, HF_TOKEN: TOKEN } }));
  assert.deepEqual(readFileSync(path), WEIGHTS);
  assert.equal(hub.requests[0].authorization, `Bearer ${TOKEN}`, 'the endpoint itself gets the token');
  const leaked = [...other.requests, ...hub.requests.filter((r) => r.server === 'cdn')].filter((r) => r.authorization !== undefined);
  assert.deepEqual(
    leaked.map((r) => `${r.server} ${r.method} ${r.path}`),
    [],
    'no request to another origin carries Authorization',
  );
  assert.ok(other.requests.some((r) => r.method === 'HEAD'));
  assert.ok(other.requests.some((r) => r.method === 'GET' && r.server === 'cdn'));
});

test('hole 9: once a redirect left the endpoint the token is not sent again, even when a later hop comes back', async () => {
  hub.hubHook = (req, res) => {
    if (req.headers['x-bounced'] === undefined && !(req.url ?? '').includes('bounced=1')) {
      res.writeHead(302, { Location: `${other.endpoint}/bounce${req.url ?? '/'}` }).end();
      return true;
    }
    return false;
  };
  other.hubHook = (req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith('/bounce/')) return false;
    res.writeHead(302, { Location: `${hub.endpoint}${url.slice('/bounce'.length)}?bounced=1` }).end();
    return true;
  };
  await hubDownload(opts({ env: { HF_HUB_CACHE: cache, HF_TOKEN: TOKEN } }));
  const withToken = [...hub.requests, ...other.requests].filter((r) => r.authorization !== undefined).map((r) => `${r.server} ${r.path}`);
  assert.deepEqual(withToken, [`hub /${REPO}/resolve/main/weights.safetensors`]);
});

test('the .incomplete race: two downloads of one file at once fetch it once and both get the verified file', async () => {
  hub.cdnBehaviour = { throttleMs: 5 };
  const [a, b] = await Promise.all([hubDownload(opts()), hubDownload(opts())]);
  assert.equal(a, b);
  assert.deepEqual(readFileSync(a), WEIGHTS);
  const gets = hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET');
  assert.equal(gets.length, 1, `one transfer, not two into one .incomplete (${gets.length} GETs)`);
  const blobs = readdirSync(join(cache, 'models--acme--clip-test', 'blobs'));
  assert.deepEqual(blobs, [sha256Hex(WEIGHTS)], 'no .incomplete or .lock is left behind');
});

test('the .incomplete race: a download waits while a live process holds the lock, then finds the file', async () => {
  const blobs = join(cache, 'models--acme--clip-test', 'blobs');
  mkdirSync(blobs, { recursive: true });
  const lock = join(blobs, `${sha256Hex(WEIGHTS)}.lock`);
  writeFileSync(lock, `${process.pid}@${hostname()}`);
  let waited = '';
  const p = hubDownload({
    ...opts(),
    onLockWait: (holder) => {
      waited = holder;
      // The other download finishes: its blob appears, then its lock goes.
      writeFileSync(join(blobs, sha256Hex(WEIGHTS)), WEIGHTS);
      rmSync(lock);
    },
  });
  const path = await p;
  assert.equal(waited, `${process.pid}@${hostname()}`);
  assert.deepEqual(readFileSync(path), WEIGHTS);
  assert.equal(hub.count('cdn'), 0, 'the file the other download stored is used, not fetched again');
});

test('the .incomplete race: a lock left by a process that is gone is taken over', async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const blobs = join(cache, 'models--acme--clip-test', 'blobs');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(blobs, `${sha256Hex(WEIGHTS)}.lock`), `${dead.stdout}@${hostname()}`);
  const path = await hubDownload(opts());
  assert.deepEqual(readFileSync(path), WEIGHTS);
  assert.deepEqual(readdirSync(blobs), [sha256Hex(WEIGHTS)]);
});

test('hole 9: a GET that the endpoint redirects to another origin does not carry the token there', async () => {
  hub.hubHook = (req, res) => {
    if (req.method !== 'GET') return false;
    res.writeHead(302, { Location: `${other.endpoint}${req.url ?? '/'}` }).end();
    return true;
  };
  const path = await hubDownload(opts({ filename: 'config.json', env: { HF_HUB_CACHE: cache, HF_TOKEN: TOKEN } }));
  assert.deepEqual(readFileSync(path), SMALL);
  assert.ok(
    hub.requests.some((r) => r.method === 'GET' && r.authorization === `Bearer ${TOKEN}`),
    'the endpoint gets the token',
  );
  const got = other.requests.filter((r) => r.method === 'GET');
  assert.equal(got.length, 1);
  assert.equal(got[0].authorization, undefined);
});

test('the .incomplete race: an empty lock left long ago (its writer died before writing its name) is taken over', async () => {
  const blobs = join(cache, 'models--acme--clip-test', 'blobs');
  mkdirSync(blobs, { recursive: true });
  const lock = join(blobs, `${sha256Hex(WEIGHTS)}.lock`);
  writeFileSync(lock, '');
  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  const path = await hubDownload(opts());
  assert.deepEqual(readFileSync(path), WEIGHTS);
  assert.deepEqual(readdirSync(blobs), [sha256Hex(WEIGHTS)]);
});
