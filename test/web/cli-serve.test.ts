import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { REPO, type WebFixture, dispose, makeFixture } from './fixture.ts';
import { e2eRef, near } from '../support/e2e.ts';

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

test('mvfa serve: listens on 127.0.0.1, reports its URL, scores as mvfa predict and the library do, exits 0 on SIGTERM', async (t) => {
  const child = spawn(
    process.execPath,
    [
      join(REPO, 'bin/mvfa.js'),
      '--json',
      'serve',
      '--clip',
      fx.clip,
      '--adapters',
      fx.adapters,
      '--support',
      fx.normalDir,
      '--support-augment',
      'none',
      '--port',
      '0',
      '--queue',
      '3',
    ],
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
  // The same image gives the same number on the page's API, from `mvfa predict` and from the library, and that number
  // is the PyTorch/numpy reference's.
  const image = fx.test[0];
  const fd = new FormData();
  fd.append('image', new Blob([readFileSync(image)], { type: 'image/png' }), 'x.png');
  const web = (await (await fetch(`${info.url}api/predict`, { method: 'POST', body: fd })).json()) as { score: number };
  const cli = mvfa([
    'predict',
    '--clip',
    fx.clip,
    '--adapters',
    fx.adapters,
    '--support',
    fx.normalDir,
    '--support-augment',
    'none',
    '--json',
    '--quiet',
    image,
  ]);
  assert.equal(cli.status, 0, cli.stderr);
  const cliScore = (JSON.parse(cli.stdout) as { results: { score: number }[] }).results[0].score;
  const { Mvfa, loadClip, loadImageTensor, predict } = await import('../../src/index.ts');
  const clip = await loadClip(fx.clip);
  const model = await Mvfa.load(clip, fx.adapters);
  await model.setSupport(await Promise.all(fx.normal.map(async (f) => (await loadImageTensor(f, { size: 56 })).tensor)));
  const lib = (await predict(model, image)).score;
  await model.release();
  await clip.release();
  t.diagnostic(`score of ${image}: page API ${web.score}, mvfa predict ${cliScore}, library ${lib}, reference ${e2eRef().predict[0].score_acas}`);
  near(web.score, lib, 1e-6, 'page API vs library');
  near(cliScore, lib, 1e-6, 'mvfa predict vs library');
  near(lib, e2eRef().predict[0].score_acas, 5e-5, 'library vs reference');
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
