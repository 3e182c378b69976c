// `mvfa serve` lifecycle under attack-free conditions that still matter for safety: images sent while the model loads
// are held (#10), and uploaded patient images live in a private folder removed on close, on SIGTERM and at the next
// start (#12 hole 12). Same tiny set-up as security.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ModelHost } from '../../src/web/model-host.ts';
import { startServer } from '../../src/web/server.ts';
import { REPO, adapters, clip, dir, multipartBody, MULTIPART, open, options, png, securityFixture, send, withServer } from './security-fixture.ts';

securityFixture();

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
