import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO, type WebFixture, dispose, makeFixture } from './fixture.ts';

// `mvfa serve` as a command: starts, prints its address, answers, and stops cleanly on SIGTERM.
let fx: WebFixture;
const children: ChildProcess[] = [];

before(async () => {
  fx = await makeFixture('cli');
});
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  dispose(fx);
});

function mvfa(args: string[]) {
  return spawnSync(process.execPath, [join(REPO, 'bin/mvfa.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, MVFA_CACHE: fx.cache },
    timeout: 60_000,
  });
}

test('mvfa serve: listens on 127.0.0.1, reports its URL, serves the API, exits 0 on SIGTERM', async () => {
  const child = spawn(
    process.execPath,
    [join(REPO, 'bin/mvfa.js'), '--json', 'serve', '--clip', fx.clip, '--adapters', fx.adapters, '--port', '0', '--queue', '3'],
    {
      env: { ...process.env, MVFA_CACHE: fx.cache },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`no address within 60 s: ${stderr}`)), 60_000).unref();
  });
  const info = JSON.parse(line) as { url: string; host: string; port: number };
  assert.equal(info.host, '127.0.0.1');
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const st = (await (await fetch(`${info.url}api/status`)).json()) as { ready: boolean; queue: { limit: number }; levels: number[] };
  assert.equal(st.ready, true);
  assert.equal(st.queue.limit, 3);
  assert.deepEqual(st.levels, [1, 2]);
  assert.doesNotMatch(stderr, /WARNING/);
  assert.match(stderr, /open http:\/\/127\.0\.0\.1:\d+\/ in a web browser/);
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  assert.equal(code, 0, stderr);
});

test('mvfa serve: usage errors exit 2 before listening', () => {
  const badPort = mvfa(['serve', '--clip', fx.clip, '--port', '70000']);
  assert.equal(badPort.status, 2);
  assert.match(badPort.stderr, /--port/);
  const missing = mvfa(['serve', '--clip', fx.clip, '--adapters', join(fx.dir, 'nope.safetensors'), '--port', '0']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.safetensors: no such file/);
  const help = mvfa(['serve', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--max-upload-mb/);
});
