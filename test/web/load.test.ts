import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type RunningServer } from '../../src/web/server.ts';
import { type WebFixture, dispose, makeFixture, serve } from './fixture.ts';

// Bounded load: 50 concurrent predictions against --queue 8. Every request must be answered 200 or 503
// (with Retry-After), the server must stay up, and its memory must not grow without bound. The counts do not depend on
// the machine's speed: during each wave the worker is held by a task the test releases only once every request has
// been either admitted or refused, so exactly 8 are served and 42 refused, whether predictions take 1 ms or 1 s.
let fx: WebFixture;
let srv: RunningServer;

before(async () => {
  fx = await makeFixture('load');
  srv = await serve(fx, { queue: 8, timeoutMs: 60_000 });
});
after(async () => {
  await srv?.close();
  dispose(fx);
});

/** Resolves once `check()` holds (polled; the test runner's timeout is the only limit). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

async function wave(
  images: Buffer[],
  names: string[],
  n: number,
  hold = false,
): Promise<{ ok: number; busy: number; other: string[]; ms: number; retryAfter: number[] }> {
  const t0 = performance.now();
  // Hold the worker: a task job that runs until released (jobs run one at a time, in order).
  let release: (() => void) | undefined;
  if (hold) {
    const task = srv.queue.submit('task', () => new Promise<void>((r) => (release = r)));
    await until(() => task.started && release !== undefined);
  }
  let answered = 0;
  const all = Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const fd = new FormData();
      fd.append('image', new Blob([images[i % images.length]], { type: 'image/png' }), names[i % names.length]);
      try {
        const res = await fetch(`${srv.url}api/predict`, { method: 'POST', body: fd, signal: AbortSignal.timeout(90_000) });
        const body = (await res.json()) as { score?: number; error?: string };
        if (res.status === 200) assert.ok(Number.isFinite(body.score));
        return { status: res.status, retry: Number(res.headers.get('retry-after')), error: body.error };
      } catch (e) {
        return { status: -1, retry: NaN, error: (e as Error).message };
      } finally {
        answered++;
      }
    }),
  );
  if (hold) {
    // Every request is either refused (answered) or admitted (waiting in the queue) before the worker is let go.
    await until(() => answered + srv.queue.stats().pending >= n);
    release!();
  }
  const answers = await all;
  return {
    ok: answers.filter((a) => a.status === 200).length,
    busy: answers.filter((a) => a.status === 503).length,
    other: answers.filter((a) => a.status !== 200 && a.status !== 503).map((a) => `${a.status}: ${a.error}`),
    ms: performance.now() - t0,
    retryAfter: answers.filter((a) => a.status === 503).map((a) => a.retry),
  };
}

test('50 concurrent predictions with --queue 8 and the worker held: 8 × 200, 42 × 503 with Retry-After, memory bounded', { timeout: 600_000 }, async (t) => {
  const paths = [...fx.test, ...fx.abnormal, ...fx.normal];
  const images = paths.map((p) => readFileSync(p));
  const names = paths.map((p) => basename(p));
  // Warm up (graph compilation, first allocations) before measuring memory.
  const warm = await wave(images, names, 4);
  assert.equal(warm.ok, 4, 'fewer requests than the queue holds are all served');
  const rss0 = process.memoryUsage().rss;
  const rounds = [];
  for (let r = 0; r < 3; r++) {
    const w = await wave(images, names, 50, true);
    rounds.push(w);
    t.diagnostic(
      `round ${r + 1}: 50 requests in ${w.ms.toFixed(0)} ms → ${w.ok} × 200, ${w.busy} × 503 (Retry-After ${[...new Set(w.retryAfter)].join('/') || '-'} s), other: ${w.other.length}`,
    );
    assert.deepEqual(w.other, [], 'only 200 and 503 answers');
    assert.equal(w.ok, 8, 'a full queue of predictions is served');
    assert.equal(w.busy, 42, 'the bounded queue refused the rest');
    for (const ra of w.retryAfter) assert.ok(ra >= 1 && ra <= 120, `Retry-After ${ra}`);
    const st = (await (await fetch(`${srv.url}api/status`)).json()) as { queue: { length: number } };
    assert.equal(st.queue.length, 0, 'the queue drains');
  }
  const rss1 = process.memoryUsage().rss;
  const growthMb = (rss1 - rss0) / (1024 * 1024);
  const stats = srv.queue.stats();
  t.diagnostic(
    `rss before ${(rss0 / 1048576).toFixed(0)} MB, after 150 requests ${(rss1 / 1048576).toFixed(0)} MB (growth ${growthMb.toFixed(1)} MB); served ${stats.served}, refused ${stats.refused}, ${srv.results.imageCount} overlays kept (${(srv.results.imageBytes / 1024).toFixed(0)} KB), ${stats.avgPredictS.toFixed(3)} s per image`,
  );
  assert.ok(growthMb < 300, `RSS grew by ${growthMb.toFixed(1)} MB`);
  assert.equal(srv.results.size, warm.ok + rounds.reduce((s, w) => s + w.ok, 0), 'one result per 200');
  assert.equal((await fetch(`${srv.url}api/status`)).status, 200, 'still serving');
});
