// Hostile networks and concurrency against `mvfa serve` (#12 holes 10, 11, 12) and images sent while the model loads
// (#10), on 127.0.0.1 with a tiny random CLIP and random adapters: Host allow-list, the port-80 comparison, upload
// slots reserved before the body is read, one training upload at a time, bounded model tasks and organ names, and
// the private folder for uploaded images.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { initAdapters } from '../../src/mvfa/adapters.ts';
import { saveAdapters } from '../../src/mvfa/checkpoint.ts';
import { allowedHostNames, exposureWarning, hostAllowed, sameOriginRequest } from '../../src/web/host-check.ts';
import { ModelHost } from '../../src/web/model-host.ts';
import { type RunningServer, type ServeOptions, startServer } from '../../src/web/server.ts';
import { TINY_CLIP, writeTinyClip } from '../support/tiny-clip.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const ORGAN = 'breast ultrasound';
let dir: string;
let clip: string;
let adapters: string;
let png: Buffer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mvfa-web-security-'));
  clip = await writeTinyClip(dir);
  adapters = join(dir, 'adapters.safetensors');
  await saveAdapters(adapters, {
    adapters: initAdapters(TINY_CLIP.vwidth, TINY_CLIP.embed, [1, 2], 7),
    info: { organ: ORGAN, imageSize: '56' },
  });
  png = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 37) % 256)), { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function options(extra: Partial<ServeOptions> = {}): ServeOptions {
  return {
    clipPaths: [clip],
    adapterPaths: [adapters],
    cacheDir: join(dir, 'cache'),
    host: '127.0.0.1',
    port: 0,
    timeoutMs: 60_000,
    scratchParent: dir,
    ...extra,
  };
}

interface Answer {
  status: number;
  body: string;
}

/** A request with full control of its headers; `body` is sent at once, or use `open()` to send it in parts. */
function send(port: number, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  return open(port, method, path, headers, body ?? Buffer.alloc(0)).answer;
}

interface OpenRequest {
  answer: Promise<Answer>;
  /** Sends the rest of the body and ends the request. */
  finish(rest: Buffer): void;
  destroy(): void;
  /** Whether an answer has arrived. */
  answered(): boolean;
}

/** Starts a request, sends `first` and keeps the connection open (a slow upload) until `finish`. */
function open(port: number, method: string, path: string, headers: Record<string, string>, first: Buffer, total = first.length): OpenRequest {
  let done = false;
  const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, 'Content-Length': String(total), ...headers } });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        done = true;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined);
  req.write(first);
  if (first.length === total) req.end();
  return {
    answer,
    finish: (rest) => req.end(rest),
    destroy: () => req.destroy(),
    answered: () => done,
  };
}

const BOUNDARY = 'mvfa-test-boundary';
const MULTIPART = { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` };

function multipartBody(parts: { field: string; name?: string; type?: string; data: Buffer | string }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = p.name === undefined ? `form-data; name="${p.field}"` : `form-data; name="${p.field}"; filename="${p.name}"`;
    const head = `--${BOUNDARY}\r\nContent-Disposition: ${disp}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** Resolves once `n` of the requests have an answer (polled on the event loop; bounded by `ms`). */
async function answers(reqs: OpenRequest[], n: number, ms = 30_000): Promise<Answer[]> {
  const t0 = Date.now();
  while (reqs.filter((r) => r.answered()).length < n) {
    if (Date.now() - t0 > ms) assert.fail(`only ${reqs.filter((r) => r.answered()).length} of the ${n} expected answers within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Promise.all(reqs.filter((r) => r.answered()).map((r) => r.answer));
}

async function withServer(extra: Partial<ServeOptions>, fn: (s: RunningServer) => Promise<void>): Promise<void> {
  const s = await startServer(options(extra));
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

// ---- hole 10: Host allow-list ----

test('hole 10: only requests naming the server are answered; other Host headers get 403 (DNS rebinding)', async () => {
  await withServer({ allowHosts: ['mvfa.lab.example'] }, async (s) => {
    const get = (host: string) => send(s.port, 'GET', '/api/status', { Host: host });
    assert.equal((await get(`127.0.0.1:${s.port}`)).status, 200);
    assert.equal((await get(`localhost:${s.port}`)).status, 200);
    assert.equal((await get(`LOCALHOST:${s.port}`)).status, 200);
    assert.equal((await get(`mvfa.lab.example:${s.port}`)).status, 200, '--allow-host adds a name');
    const evil = await get(`attacker.example:${s.port}`);
    assert.equal(evil.status, 403);
    assert.match(evil.body, /unexpected Host header/);
    assert.match(evil.body, /--allow-host/);
    assert.equal((await get('127.0.0.1')).status, 403, 'no port in the Host header means 80, not this port');
    assert.equal((await get(`127.0.0.1:${s.port + 1}`)).status, 403);
    assert.equal((await get(`127.0.0.1:${s.port}@attacker.example`)).status, 403);
    // A rebinding page sends its own name as Host and Origin: state-changing requests are refused too.
    const post = await send(
      s.port,
      'POST',
      '/api/model',
      { Host: `attacker.example:${s.port}`, Origin: `http://attacker.example:${s.port}`, 'Content-Type': 'application/json' },
      Buffer.from('{"organ":"x"}'),
    );
    assert.equal(post.status, 403);
    const crossOrigin = await send(
      s.port,
      'POST',
      '/api/model',
      { Origin: 'http://attacker.example', 'Content-Type': 'application/json' },
      Buffer.from('{"organ":"x"}'),
    );
    assert.equal(crossOrigin.status, 403);
  });
});

test("hole 10: a wildcard address allows this machine's names and addresses only; the warning says what exposure means", () => {
  const names = allowedHostNames('0.0.0.0', ['mvfa.lab.example'], { interfaces: ['192.168.1.20', 'fe80::1'], machine: 'lab-pc' });
  for (const ok of ['192.168.1.20:8765', '[fe80::1]:8765', 'lab-pc:8765', 'lab-pc.local:8765', 'LAB-PC.:8765', 'mvfa.lab.example:8765', 'localhost:8765'])
    assert.ok(hostAllowed(ok, names, 8765), ok);
  for (const bad of ['attacker.example:8765', '192.168.1.21:8765', '192.168.1.20:8766', '192.168.1.20', 'lab-pc.attacker.example:8765', '', 'a b:8765'])
    assert.ok(!hostAllowed(bad, names, 8765), bad);
  const lan = allowedHostNames('192.168.1.20', []);
  assert.ok(hostAllowed('192.168.1.20:9000', lan, 9000));
  assert.ok(!hostAllowed('attacker.example:9000', lan, 9000), 'a rebinding name is refused off loopback too');
  const w = exposureWarning('0.0.0.0', 8765, [...names]);
  assert.match(w, /every network address of this computer/);
  assert.match(w, /upload images \(patient data\)/);
  assert.match(w, /unencrypted/);
  assert.match(w, /--allow-host/);
  assert.match(w, /--host 127\.0\.0\.1/);
});

test('hole 10: with port 80 a Host header without a port (as browsers send it) is this server', async (t) => {
  assert.ok(hostAllowed('127.0.0.1', allowedHostNames('127.0.0.1'), 80));
  assert.ok(hostAllowed('127.0.0.1:80', allowedHostNames('127.0.0.1'), 80));
  assert.ok(sameOriginRequest('http://127.0.0.1', '127.0.0.1', 80));
  assert.ok(sameOriginRequest('http://127.0.0.1', '127.0.0.1:80', 80));
  assert.ok(!sameOriginRequest('https://127.0.0.1', '127.0.0.1', 80));
  let s: RunningServer;
  try {
    s = await startServer(options({ clipPaths: [], adapterPaths: [], port: 80 }));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EADDRINUSE' || code === 'EPERM') return t.skip(`cannot listen on 127.0.0.1:80 here (${code})`);
    throw e;
  }
  try {
    assert.equal((await send(80, 'GET', '/api/status', { Host: '127.0.0.1' })).status, 200);
    assert.equal((await send(80, 'GET', '/api/status', { Host: 'localhost' })).status, 200);
    const post = await send(80, 'POST', '/api/model', { Host: '127.0.0.1', Origin: 'http://127.0.0.1', 'Content-Type': 'application/json' }, Buffer.from('{}'));
    assert.equal(post.status, 400, "the page's own POST passes the Origin check (and fails only on its empty body)");
    assert.equal((await send(80, 'GET', '/api/status', { Host: 'attacker.example' })).status, 403);
  } finally {
    await s.close();
  }
});

// ---- hole 11: concurrency ----

test('hole 11: prediction slots are reserved before an upload is read; the server answers others meanwhile', async () => {
  await withServer({ queue: 2 }, async (s) => {
    const body = multipartBody([{ field: 'image', name: 'slow.png', type: 'image/png', data: png }]);
    const first = body.subarray(0, 200);
    // Six slow uploads: two hold the two slots, four are refused before their bodies are read.
    const slow = Array.from({ length: 6 }, () => open(s.port, 'POST', '/api/predict', MULTIPART, first, body.length));
    const refused = await answers(slow, 4);
    assert.deepEqual(
      refused.map((a) => a.status),
      [503, 503, 503, 503],
    );
    assert.match(refused[0].body, /busy/);
    const held = slow.filter((r) => !r.answered());
    assert.equal(held.length, 2);
    const st = JSON.parse((await send(s.port, 'GET', '/api/status', {})).body) as { queue: { length: number; limit: number } };
    assert.equal(st.queue.length, 2, 'the held uploads count against the queue');
    for (const r of held) r.finish(body.subarray(200));
    const done = await Promise.all(held.map((r) => r.answer));
    assert.deepEqual(
      done.map((a) => a.status),
      [200, 200],
      done.map((a) => a.body).join('\n'),
    );
    const after = JSON.parse((await send(s.port, 'GET', '/api/status', {})).body) as { queue: { length: number } };
    assert.equal(after.queue.length, 0, 'the slots are given back');
    // A slot held by an upload that breaks off is given back as well.
    const broken = open(s.port, 'POST', '/api/predict', MULTIPART, first, body.length);
    await new Promise((r) => setTimeout(r, 100));
    broken.destroy();
    const t0 = Date.now();
    let length = -1;
    while (length !== 0 && Date.now() - t0 < 20_000) {
      length = (JSON.parse((await send(s.port, 'GET', '/api/status', {})).body) as { queue: { length: number } }).queue.length;
      if (length !== 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(length, 0);
  });
});

test('hole 11: one training upload at a time: the check and the claim come before the body is read', async () => {
  await withServer({}, async (s) => {
    const body = multipartBody([
      { field: 'organ', data: ORGAN },
      { field: 'normal[]', name: 'n.png', type: 'image/png', data: png },
    ]);
    const first = body.subarray(0, 100);
    const slow = Array.from({ length: 3 }, () => open(s.port, 'POST', '/api/train', MULTIPART, first, body.length));
    const refused = await answers(slow, 2);
    assert.deepEqual(
      refused.map((a) => a.status),
      [409, 409],
    );
    assert.match(refused[0].body, /already in progress/);
    const held = slow.filter((r) => !r.answered());
    assert.equal(held.length, 1);
    // The held upload has no abnormal image: it fails (400) and gives the claim back.
    held[0].finish(body.subarray(100));
    const a = await held[0].answer;
    assert.equal(a.status, 400, a.body);
    assert.match(a.body, /at least one normal and one abnormal/);
    const again = await send(s.port, 'POST', '/api/train', MULTIPART, body);
    assert.equal(again.status, 400, 'the claim was released');
  });
});

test('hole 11: model tasks are bounded; extra ones are refused with 503', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  class SlowHost extends ModelHost {
    override async load(req: { clip?: string; adapters?: string; organ?: string }): Promise<void> {
      await gate;
      await super.load(req);
    }
  }
  const o = options({ clipPaths: [], adapterPaths: [] });
  await withServer({ ...o, model: new SlowHost(o), queue: 2 }, async (s) => {
    const json = Buffer.from(JSON.stringify({ organ: ORGAN }));
    const asks = Array.from({ length: 6 }, () => open(s.port, 'POST', '/api/model', { 'Content-Type': 'application/json' }, json));
    // The queue holds at most 4 tasks; two of the six are refused at once while the others wait.
    const extra = await answers(asks, 2);
    assert.deepEqual(
      extra.map((a) => a.status),
      [503, 503],
    );
    assert.match(extra[0].body, /model tasks/);
    const waiting = asks.filter((r) => !r.answered());
    assert.equal(waiting.length, 4);
    release();
    const first = await Promise.all(waiting.map((r) => r.answer));
    // With no CLIP loaded each load fails on its own terms (409), but none was left waiting.
    assert.deepEqual(
      first.map((a) => a.status),
      [409, 409, 409, 409],
    );
  });
});

test('hole 11: new organ names (each a text-features file) are bounded per server run', async () => {
  const cache = join(dir, 'organ-cache');
  await withServer({ cacheDir: cache, maxOrgans: 3 }, async (s) => {
    const files = (): number => readdirSync(cache, { recursive: true }).filter((f) => statSync(join(cache, String(f))).isFile()).length;
    const before = files();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const a = await send(s.port, 'POST', '/api/model', { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify({ organ: `organ ${i}` })));
      statuses.push(a.status);
      if (a.status === 429) assert.match(a.body, /already prepared 3 other organ names/);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
    assert.equal(files() - before, 3, 'three new text-features files, not six');
    const known = await send(s.port, 'POST', '/api/model', { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify({ organ: 'organ 1' })));
    assert.equal(known.status, 200, 'a name already prepared stays usable');
  });
});

// ---- #10: images sent while the model loads ----

test('#10: an image sent while the model is loading is held and scored once it is ready, not refused', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  class LoadingHost extends ModelHost {
    override async init(): Promise<void> {
      await gate;
      await super.init();
    }
  }
  const o = options();
  let url!: (u: string) => void;
  const listening = new Promise<string>((r) => (url = r));
  const starting = startServer({ ...o, model: new LoadingHost(o), onListening: url });
  const base = await listening;
  const port = Number(new URL(base).port);
  try {
    const status = JSON.parse((await send(port, 'GET', '/api/status', {})).body) as { ready: boolean; loading: boolean; message: string };
    assert.equal(status.ready, false);
    assert.equal(status.loading, true);
    assert.match(status.message, /model is loading/);
    const body = multipartBody([{ field: 'image', name: 'early.png', type: 'image/png', data: png }]);
    const early = open(port, 'POST', '/api/predict', MULTIPART, body);
    // Still loading: the image waits in the queue instead of a 409.
    const t0 = Date.now();
    let queued = 0;
    while (queued === 0 && !early.answered() && Date.now() - t0 < 30_000) {
      queued = (JSON.parse((await send(port, 'GET', '/api/status', {})).body) as { queue: { length: number } }).queue.length;
      if (queued === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(early.answered(), false, early.answered() ? (await early.answer).body : '');
    assert.equal(queued, 1, 'the image is queued behind the load');
    release();
    const a = await early.answer;
    assert.equal(a.status, 200, a.body);
    const r = JSON.parse(a.body) as { name: string; zero_det: number };
    assert.equal(r.name, 'early.png');
    assert.ok(Number.isFinite(r.zero_det));
  } finally {
    release();
    await (await starting).close();
  }
});

test('#10: without a load under way an image is still refused at once with what to do', async () => {
  const o = options({ clipPaths: [], adapterPaths: [] });
  await withServer(o, async (s) => {
    const body = multipartBody([{ field: 'image', name: 'x.png', type: 'image/png', data: png }]);
    const a = await send(s.port, 'POST', '/api/predict', MULTIPART, body);
    assert.equal(a.status, 409);
    assert.match(a.body, /No model is loaded/);
  });
});

// ---- hole 12: uploaded images in a private folder ----

function scratchDirs(parent: string): string[] {
  return readdirSync(parent).filter((n) => n.startsWith('mvfa-serve-'));
}

test('hole 12: the private folder is 0700, removed on close, and folders of killed servers go at the next start', async () => {
  const parent = mkdtempSync(join(dir, 'scratch-'));
  // A folder left by a process that is gone (with an uploaded image in it), and one of a process still running.
  const gone = spawn(process.execPath, ['-e', '0']);
  const gonePid = await new Promise<number>((r) => gone.on('exit', () => r(gone.pid!)));
  const stale = join(parent, `mvfa-serve-${gonePid}-abcdef`);
  mkdirSync(join(stale, 'mvfa-serve-train-x', 'normal'), { recursive: true });
  writeFileSync(join(stale, 'mvfa-serve-train-x', 'normal', 'patient.png'), png);
  const live = join(parent, `mvfa-serve-${process.ppid}-ghijkl`);
  mkdirSync(live);
  const s = await startServer(options({ clipPaths: [], adapterPaths: [], scratchParent: parent }));
  assert.equal(existsSync(stale), false, 'the folder of a killed server is removed');
  assert.ok(existsSync(live), 'the folder of a running process is kept');
  assert.ok(s.scratchDir.startsWith(join(parent, `mvfa-serve-${process.pid}-`)));
  assert.equal(statSync(s.scratchDir).mode & 0o777, 0o700);
  await s.close();
  assert.equal(existsSync(s.scratchDir), false, 'removed when the server closes');
  assert.deepEqual(scratchDirs(parent), [`mvfa-serve-${process.ppid}-ghijkl`]);
});

test('hole 12: mvfa serve removes its private folder on SIGTERM; after SIGKILL the next start removes it', async () => {
  const parent = mkdtempSync(join(dir, 'cli-scratch-'));
  const env = { ...process.env, TMPDIR: parent, MVFA_CACHE: join(dir, 'cache') };
  const start = async (): Promise<ReturnType<typeof spawn>> => {
    const child = spawn(process.execPath, [join(REPO, 'bin/mvfa.js'), '--json', 'serve', '--clip', clip, '--adapters', adapters, '--port', '0'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        // The --json line with the address comes once the server is up and its signal handlers are set.
        if (out.split('\n').some((l) => l.startsWith('{"url"'))) resolve();
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      setTimeout(() => reject(new Error(`no address within 120 s: ${err}`)), 120_000).unref();
    });
    return child;
  };
  const stop = (child: ReturnType<typeof spawn>, signal: NodeJS.Signals) =>
    new Promise<number | string | null>((resolve) => {
      child.on('exit', (c, sig) => resolve(c ?? sig));
      child.kill(signal);
    });
  const a = await start();
  assert.equal(scratchDirs(parent).length, 1);
  assert.equal(await stop(a, 'SIGTERM'), 0);
  assert.deepEqual(scratchDirs(parent), [], 'SIGTERM: removed');
  const b = await start();
  const left = scratchDirs(parent);
  assert.equal(left.length, 1);
  writeFileSync(join(parent, left[0], 'patient.png'), png);
  await stop(b, 'SIGKILL');
  assert.deepEqual(scratchDirs(parent), left, 'SIGKILL leaves it behind');
  const c = await start();
  const now = scratchDirs(parent);
  assert.equal(now.length, 1);
  assert.notEqual(now[0], left[0], 'the next start removed the folder of the killed server');
  assert.equal(await stop(c, 'SIGTERM'), 0);
  assert.deepEqual(scratchDirs(parent), []);
});
