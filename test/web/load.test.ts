import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type RunningServer } from '../../src/web/server.ts';
import { type WebFixture, dispose, makeFixture, serve } from './fixture.ts';

// Bounded load: 50 concurrent predictions against --queue 8. Every request must be answered 200 or 503
// (with Retry-After), the server must stay up, and its memory must not grow without bound.
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

async function wave(images: Buffer[], names: string[], n: number): Promise<{ ok: number; busy: number; other: string[]; ms: number; retryAfter: number[] }> {
  const t0 = performance.now();
  const answers = await Promise.all(
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
      }
    }),
  );
  return {
    ok: answers.filter((a) => a.status === 200).length,
    busy: answers.filter((a) => a.status === 503).length,
    other: answers.filter((a) => a.status !== 200 && a.status !== 503).map((a) => `${a.status}: ${a.error}`),
    ms: performance.now() - t0,
    retryAfter: answers.filter((a) => a.status === 503).map((a) => a.retry),
  };
}

test('50 concurrent predictions with --queue 8: every request answered 200 or 503, memory bounded', async (t) => {
  const paths = [...fx.test, ...fx.abnormal, ...fx.normal];
  const images = paths.map((p) => readFileSync(p));
  const names = paths.map((p) => basename(p));
  // Warm up (graph compilation, first allocations) before measuring memory.
  const warm = await wave(images, names, 4);
  assert.equal(warm.ok + warm.busy, 4);
  const rss0 = process.memoryUsage().rss;
  const rounds = [];
  for (let r = 0; r < 3; r++) {
    const w = await wave(images, names, 50);
    rounds.push(w);
    t.diagnostic(
      `round ${r + 1}: 50 requests in ${w.ms.toFixed(0)} ms → ${w.ok} × 200, ${w.busy} × 503 (Retry-After ${[...new Set(w.retryAfter)].join('/') || '-'} s), other: ${w.other.length}`,
    );
    assert.deepEqual(w.other, [], 'only 200 and 503 answers');
    assert.equal(w.ok + w.busy, 50);
    assert.ok(w.ok >= 8, 'at least a full queue of predictions is served');
    assert.ok(w.busy > 0, 'the bounded queue refused some requests');
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
