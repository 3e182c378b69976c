// Hostile networks and concurrency against `mvfa serve` (#12 holes 10, 11), on 127.0.0.1 with a tiny random CLIP and
// random adapters: Host allow-list, the port-80 comparison, upload slots reserved before the body is read, one training
// upload at a time, bounded model tasks and organ names. (Images sent while the model loads and the private upload
// folder: serve-lifecycle.test.ts.)
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { allowedHostNames, exposureWarning, hostAllowed, sameOriginRequest } from '../../src/web/host-check.ts';
import { ModelHost } from '../../src/web/model-host.ts';
import { type RunningServer, startServer } from '../../src/web/server.ts';
import { ORGAN, adapters, answers, clip, dir, multipartBody, MULTIPART, open, options, png, securityFixture, send, withServer } from './security-fixture.ts';

securityFixture();

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
