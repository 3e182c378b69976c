// The work queue's bounds (#12 hole 11): prediction slots reserved before an upload is read, used or given back
// exactly once, and a bound on model tasks (loading, training) waiting or running.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HttpError } from '../../src/web/http.ts';
import { WorkQueue } from '../../src/web/queue.ts';

const busy = (e: unknown): boolean => (e as HttpError).status === 503 && Number((e as HttpError).headers['Retry-After']) >= 1;

test('reserved slots count against the limit; release gives one back once; submit uses it without counting twice', async () => {
  const q = new WorkQueue(2);
  const a = q.reserve();
  const b = q.reserve();
  assert.throws(() => q.reserve(), busy);
  assert.throws(() => q.submit('predict', async () => 0), busy, 'a prediction without a slot finds none');
  assert.equal(q.stats().pending, 2);
  a.release();
  a.release();
  assert.equal(q.stats().pending, 1, 'a second release changes nothing');
  const job = q.submit('predict', async () => 5, b);
  assert.equal(q.stats().pending, 1, 'the held slot is used, not a second one');
  b.release();
  assert.equal(q.stats().pending, 1, 'releasing a used slot changes nothing');
  assert.equal(await job.result, 5);
  assert.equal(q.stats().pending, 0);
  assert.equal(q.stats().refused, 2);
});

test('model tasks are bounded (waiting or running); a finished or cancelled task frees its place', async () => {
  const q = new WorkQueue(8, 2);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const first = q.submit('task', () => gate);
  const second = q.submit('task', async () => 2);
  assert.throws(
    () => q.submit('task', async () => 3),
    (e: unknown) => busy(e) && /model tasks/.test((e as Error).message),
  );
  assert.equal(second.cancel(), true);
  const third = q.submit('task', async () => 3);
  open();
  await first.result;
  assert.equal(await third.result, 3);
  assert.equal(await q.submit('task', async () => 4).result, 4);
  assert.throws(() => new WorkQueue(1, 0), /task limit/);
});
