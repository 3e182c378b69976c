// The worker fleet of #13 against a real Redis (Debian redis-server, started here on a free loopback port with a
// password): two workers with one SIGKILLed mid-task, a bad file among the images, and Redis restarted mid-job.
// Every decisive moment is reached through the worker's test hook (MVFA_WORKER_HOOK_DIR: it announces the image
// it started and holds before storing the result while a `hold` file exists), never through timing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { initAdapters } from '../../src/mvfa/adapters.ts';
import { saveAdapters } from '../../src/mvfa/checkpoint.ts';
import { REPO } from '../support/fixtures.ts';
import { type RedisServer, startRedis } from '../support/redis-server.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';
import { type CliResult, runMvfa } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'mvfa-queue-'));
const demo = join(REPO, 'demo/BUSI_demo_AD/test');
let redis: RedisServer;
let clip = '';
const adapters = join(dir, 'adapters.safetensors');
const plain = join(dir, 'plain.safetensors'); // no stored calibration: the run-level rule
const images: string[] = [];
const bad = join(dir, 'imgs', 'unreadable.png'); // sorts after the good images: the held task is a good one
const model = () => ['--clip', clip, '--adapters', adapters];

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number>;
}

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [join(REPO, 'bin/mvfa.js'), '--threads', '1', ...args], {
    env: { ...process.env, MVFA_CACHE: join(dir, 'cache'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exit = once(child, 'exit').then(([code, signal]) => (code ?? (signal ? -1 : -2)) as number);
  return { child, stderr: () => err, exit };
}

function mvfa(args: string[], env: Record<string, string> = {}): CliResult {
  return runMvfa(['--threads', '1', ...args], join(dir, 'cache'), env);
}

/** Waits for something a process announces; the limit only turns a hang into a failure, it never decides a pass. */
async function waitFor(cond: () => boolean, what: string, p?: Proc): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (cond()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${p ? `\n${p.stderr()}` : ''}`);
}

function status(job: string): Record<string, number> {
  const r = mvfa(['queue', 'status', '--redis', redis.url, '--job', job, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, number>;
}

const WORKER = ['worker', '--exit-when-idle', '--lock-duration', '1000', '--stalled-interval', '500'];

function hookDir(name: string, hold: boolean): string {
  const d = join(dir, name);
  mkdirSync(d);
  if (hold) writeFileSync(join(d, 'hold'), '');
  return d;
}

interface Row {
  image: string;
  score: number | null;
  zero_det: number;
}

let expected: Map<string, Row>;

before(async () => {
  redis = await startRedis(mkdtempSync(join(dir, 'redis-')), 'pass word/secret');
  clip = await writeTinyClip(dir);
  const ad = initAdapters(128, 32, [1, 2], 5);
  const range = { min: 0, max: 3 };
  await saveAdapters(adapters, {
    adapters: ad,
    info: { organ: 'Breast', imageSize: '224' },
    calibration: { task: 'AC', zeroSeg: range, fewSeg: null, zeroDet: range, fewDet: null, source: 'test' },
  });
  await saveAdapters(plain, { adapters: ad, info: { organ: 'Breast', imageSize: '224' } });
  mkdirSync(join(dir, 'imgs'));
  for (const sub of ['good/img', 'Ungood/img']) {
    for (const f of readdirSync(join(demo, sub)).sort().slice(0, 3)) {
      copyFileSync(join(demo, sub, f), join(dir, 'imgs', f));
      images.push(resolve(join(dir, 'imgs', f)));
    }
  }
  writeFileSync(bad, 'not an image at all');
  images.sort();
  // The single-process reference: `mvfa predict` of the same images.
  const r = mvfa(['predict', ...model(), '--json', ...images]);
  assert.equal(r.code, 0, r.stderr);
  const rows = (JSON.parse(r.stdout) as { results: Row[] }).results;
  assert.equal(rows.length, images.length);
  expected = new Map(rows.map((x) => [x.image, x]));
});

after(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function collect(job: string, url = redis.url, env: Record<string, string> = {}): { results: Row[]; failures: { input: string; reason: string }[] } {
  const out = join(dir, `collect-${job}`);
  const r = mvfa(['queue', 'collect', '--redis', url, '--job', job, '--out', out], env);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
}

function assertSameAsPredict(results: Row[]): void {
  assert.deepEqual(
    results.map((r) => r.image),
    images,
  );
  for (const r of results) {
    const e = expected.get(r.image)!;
    assert.equal(r.score, e.score, `${r.image}: score ${r.score} ≠ predict's ${e.score}`);
    assert.equal(r.zero_det, e.zero_det, `${r.image}: zero_det`);
  }
}

const scoredLines = (log: string) => log.split('\n').filter((l) => l.startsWith('worker: scored '));

test('two workers, one SIGKILLed mid-task: every image scored once, equal to predict; a bad file fails alone', { timeout: 300_000 }, async (t) => {
  const job = 'kill-test';
  const sub = mvfa(['queue', 'submit', '--redis', redis.url, '--job', job, '--chunk', '1', ...model(), '--json', ...images, bad]);
  assert.equal(sub.code, 0, sub.stderr);
  assert.deepEqual(JSON.parse(sub.stdout), { job, images: images.length + 1 });
  // The same job name again is refused.
  const again = mvfa(['queue', 'submit', '--redis', redis.url, '--job', job, ...model(), images[0]]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists/);

  const hookA = hookDir('hook-a', true);
  const a = start([...WORKER, '--redis', redis.url], { MVFA_WORKER_HOOK_DIR: hookA });
  await waitFor(() => existsSync(join(hookA, 'started-1')), 'worker A to start a task', a);
  const heldImage = readFileSync(join(hookA, 'started-1'), 'utf8');
  const before = status(job);
  t.diagnostic(`before the kill: ${JSON.stringify(before)}`);
  assert.deepEqual(before, { total: images.length + 1, done: 0, failed: 0, waiting: images.length, active: 1 });

  const b = start([...WORKER, '--redis', redis.url]);
  a.child.kill('SIGKILL');
  assert.equal(await a.exit, -1);
  assert.equal(await b.exit, 0, b.stderr());
  const afterKill = status(job);
  t.diagnostic(`after: ${JSON.stringify(afterKill)}`);
  assert.deepEqual(afterKill, { total: images.length + 1, done: images.length, failed: 1, waiting: 0, active: 0 });

  // Exactly once: the killed worker stored nothing; the survivor scored each image once, the held one included.
  assert.deepEqual(scoredLines(a.stderr()), []);
  const scored = scoredLines(b.stderr()).map((l) => l.slice('worker: scored '.length));
  assert.deepEqual([...scored].sort(), images);
  assert.ok(scored.includes(heldImage));
  // The bad file: one attempt, its own error, the others unaffected.
  assert.equal(
    b
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith(`worker: failed ${bad}`)).length,
    1,
  );

  const doc = collect(job);
  assertSameAsPredict(doc.results);
  assert.equal(doc.failures.length, 1);
  assert.equal(doc.failures[0].input, bad);
  assert.match(doc.failures[0].reason, /unreadable\.png/);
});

test('Redis restarted mid-job: the worker waits, reconnects and finishes; results equal predict', { timeout: 300_000 }, async (t) => {
  const job = 'restart-test';
  const sub = mvfa(['queue', 'submit', '--redis', redis.url, '--job', job, ...model(), ...images]);
  assert.equal(sub.code, 0, sub.stderr);
  const hook = hookDir('hook-c', true);
  const c = start([...WORKER, '--redis', redis.url], { MVFA_WORKER_HOOK_DIR: hook });
  await waitFor(() => existsSync(join(hook, 'started-1')), 'the worker to start a task', c);
  await redis.stop();
  await redis.start();
  rmSync(join(hook, 'hold'));
  assert.equal(await c.exit, 0, c.stderr());
  const s = status(job);
  t.diagnostic(`after the restart: ${JSON.stringify(s)}`);
  assert.deepEqual(s, { total: images.length, done: images.length, failed: 0, waiting: 0, active: 0 });
  const doc = collect(job);
  assertSameAsPredict(doc.results);
  assert.deepEqual(doc.failures, []);
});

test(
  'adapters without calibration: collect fuses the whole job with the official min–max, equal to predict of the same images',
  { timeout: 300_000 },
  async () => {
    const job = 'run-rule';
    const ref = join(dir, 'ref-plain');
    const p = mvfa(['predict', '--clip', clip, '--adapters', plain, '--out', join(ref, 'out'), '--dump', join(ref, 'dump'), ...images]);
    assert.equal(p.code, 0, p.stderr);
    const heat = join(dir, 'job-heatmaps');
    const dump = join(dir, 'job-dump');
    const sub = mvfa([
      'queue',
      'submit',
      '--redis',
      redis.url,
      '--job',
      job,
      '--clip',
      clip,
      '--adapters',
      plain,
      '--out',
      heat,
      '--dump',
      dump,
      '--chunk',
      '2',
      ...images,
    ]);
    assert.equal(sub.code, 0, sub.stderr);
    const w = start([...WORKER, '--redis', redis.url]);
    assert.equal(await w.exit, 0, w.stderr());
    const out = join(dir, 'collect-run-rule');
    const c = mvfa(['queue', 'collect', '--redis', redis.url, '--job', job, '--out', out]);
    assert.equal(c.code, 0, c.stderr);
    const got = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Record<string, unknown>;
    const want = JSON.parse(readFileSync(join(ref, 'out', 'results.json'), 'utf8')) as Record<string, unknown>;
    assert.equal((got.rule as { kind: string }).kind, 'run-min-max');
    assert.deepEqual(got, want);
    assert.deepEqual(JSON.parse(readFileSync(join(dump, 'scores.json'), 'utf8')), JSON.parse(readFileSync(join(ref, 'dump', 'scores.json'), 'utf8')));
    for (const f of readdirSync(join(ref, 'out')).filter((n) => n.endsWith('.png')))
      assert.ok(readFileSync(join(heat, f)).equals(readFileSync(join(ref, 'out', f))), f);
    for (const f of readdirSync(join(ref, 'dump')).filter((n) => n.endsWith('.npy')))
      assert.ok(readFileSync(join(dump, f)).equals(readFileSync(join(ref, 'dump', f))), f);
  },
);

test(
  'a task that throws (its model cannot be loaded) is retried a bounded number of times, then its images are failed with the error',
  { timeout: 300_000 },
  async () => {
    const gone = join(dir, 'gone.safetensors');
    copyFileSync(adapters, gone);
    const job = 'no-model';
    const sub = mvfa(['queue', 'submit', '--redis', redis.url, '--job', job, '--clip', clip, '--adapters', gone, ...images.slice(0, 2)]);
    assert.equal(sub.code, 0, sub.stderr);
    rmSync(gone);
    const w = start([...WORKER, '--redis', redis.url]);
    assert.equal(await w.exit, 0, w.stderr());
    assert.deepEqual(status(job), { total: 2, done: 0, failed: 2, waiting: 0, active: 0 });
    const attempts = w
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('worker: task ') && l.includes('failed'));
    assert.equal(attempts.length, 3, w.stderr()); // TASK_ATTEMPTS, then no more
    const doc = collect(job);
    assert.deepEqual(doc.results, []);
    assert.deepEqual(
      doc.failures.map((f) => f.input),
      images.slice(0, 2),
    );
    for (const f of doc.failures) assert.match(f.reason, /gone\.safetensors/);
  },
);

test('a task that stalls more than --max-stalled times (its worker killed) is failed, not retried forever', { timeout: 300_000 }, async () => {
  const job = 'stall-limit';
  const sub = mvfa(['queue', 'submit', '--redis', redis.url, '--job', job, ...model(), images[0]]);
  assert.equal(sub.code, 0, sub.stderr);
  const hook = hookDir('hook-stall', true);
  const a = start([...WORKER, '--redis', redis.url], { MVFA_WORKER_HOOK_DIR: hook });
  await waitFor(() => existsSync(join(hook, 'started-1')), 'the worker to start its task', a);
  a.child.kill('SIGKILL');
  await a.exit;
  const b = start([...WORKER, '--max-stalled', '0', '--redis', redis.url]);
  assert.equal(await b.exit, 0, b.stderr());
  assert.deepEqual(scoredLines(b.stderr()), []);
  assert.deepEqual(status(job), { total: 1, done: 0, failed: 1, waiting: 0, active: 0 });
  const doc = collect(job);
  assert.deepEqual(
    doc.failures.map((f) => f.input),
    [images[0]],
  );
  assert.match(doc.failures[0].reason, /stalled/i);
});

test('queue commands refuse a bad URL, a wrong password and an unknown job clearly', () => {
  const r1 = mvfa(['queue', 'status', '--redis', 'http://127.0.0.1:1', '--job', 'x']);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /redis:\/\/ or rediss:\/\//);
  const wrong = redis.url.replace(/:[^:@]*@/, ':nope@');
  const r2 = mvfa(['queue', 'status', '--redis', wrong, '--job', 'x']);
  assert.equal(r2.code, 2);
  assert.doesNotMatch(r2.stderr, /nope/);
  const r3 = mvfa(['queue', 'status', '--redis', redis.url, '--job', 'no-such-job']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /no job named 'no-such-job'/);
});

test('rediss:// (TLS, password): submit, worker, status and collect; an untrusted certificate is refused clearly', { timeout: 300_000 }, async () => {
  const tlsDir = join(REPO, 'test/engine/queue-tls');
  const tls = await startRedis(mkdtempSync(join(dir, 'redis-tls-')), 'tls secret', { cert: join(tlsDir, 'cert.pem'), key: join(tlsDir, 'key.pem') });
  try {
    assert.match(tls.url, /^rediss:/);
    const ca = { NODE_EXTRA_CA_CERTS: join(tlsDir, 'cert.pem') };
    const untrusted = mvfa(['queue', 'status', '--redis', tls.url, '--job', 'x']);
    assert.equal(untrusted.code, 2);
    assert.match(untrusted.stderr, /certificate/i);
    const job = 'tls';
    const sub = mvfa(['queue', 'submit', '--redis', tls.url, '--job', job, ...model(), ...images.slice(0, 2)], ca);
    assert.equal(sub.code, 0, sub.stderr);
    const w = start([...WORKER, '--redis', tls.url], ca);
    assert.equal(await w.exit, 0, w.stderr());
    const st = mvfa(['queue', 'status', '--redis', tls.url, '--job', job, '--json'], ca);
    assert.deepEqual(JSON.parse(st.stdout), { total: 2, done: 2, failed: 0, waiting: 0, active: 0 });
    const doc = collect(job, tls.url, ca);
    assert.deepEqual(
      doc.results.map((r) => [r.image, r.score]),
      images.slice(0, 2).map((f) => [f, expected.get(f)!.score]),
    );
  } finally {
    await tls.stop();
  }
});
