import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { type RunningServer } from '../../src/web/server.ts';
import { ORGAN, type WebFixture, jsonOf, dispose, makeFixture, multipart, rawRequest, serve, tinyDicom } from './fixture.ts';
import { e2eRef, near } from '../support/e2e.ts';

// The JSON API and its hardening, on an in-process server with the tiny CLIP and adapters trained in the test.
let fx: WebFixture;
let srv: RunningServer;

before(async () => {
  fx = await makeFixture('api');
  srv = await serve(fx, { maxUploadBytes: 1024 * 1024, queue: 8, timeoutMs: 20_000, maxEpochs: 3 });
});
after(async () => {
  await srv?.close();
  dispose(fx);
});

interface Result {
  id: string;
  name: string;
  score: number | null;
  zero_det: number;
  few_det: number | null;
  width: number;
  height: number;
  overlay: string;
  overlay_png_base64?: string;
}

function form(field: string, path: string, name = basename(path), type = 'image/png'): FormData {
  const fd = new FormData();
  fd.append(field, new Blob([readFileSync(path)], { type }), name);
  return fd;
}

async function predictFile(path: string, query = ''): Promise<{ res: Response; body: Result & { error?: string } }> {
  const res = await fetch(`${srv.url}api/predict${query}`, { method: 'POST', body: form('image', path) });
  return { res, body: (await res.json()) as Result & { error?: string } };
}

test('status: model, organ, levels, image size, calibration, queue; security headers and no CORS', async () => {
  const res = await fetch(`${srv.url}api/status`);
  assert.equal(res.status, 200);
  const s = (await res.json()) as Record<string, unknown> & { queue: { length: number; limit: number } };
  assert.equal(s.ready, true);
  assert.equal(s.organ, ORGAN);
  assert.deepEqual(s.levels, [1, 2]);
  assert.equal(s.image_size, 56);
  assert.equal(s.calibration, true);
  assert.equal(s.queue.length, 0);
  assert.equal(s.queue.limit, 8);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('access-control-allow-origin'), null);
});

test('the page: self-contained, inline script and style allowed by their CSP hashes only', async () => {
  const res = await fetch(srv.url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  assert.match(html, /anomaly score/i);
  assert.match(html, /heatmap/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'no external resources');
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1];
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
  for (const inline of [script, style]) assert.ok(csp.includes(`'sha256-${createHash('sha256').update(inline).digest('base64')}'`));
});

test('predict a real BUSI image: finite score, overlay PNG with the image aspect (URL and base64)', async (t) => {
  const img = fx.test.at(-1)!;
  const meta = await sharp(img).metadata();
  const { res, body } = await predictFile(img, '?overlay=base64');
  assert.equal(res.status, 200, body.error);
  assert.equal(body.name, basename(img));
  assert.ok(Number.isFinite(body.score), `score ${body.score}`);
  assert.ok(Number.isFinite(body.zero_det));
  assert.match(body.id, /^[0-9a-f]{32}$/);
  assert.deepEqual([body.width, body.height], [meta.width, meta.height]);
  const png = await fetch(new URL(body.overlay, srv.url));
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  const bytes = Buffer.from(await png.arrayBuffer());
  assert.ok(bytes.equals(Buffer.from(body.overlay_png_base64!, 'base64')));
  const om = await sharp(bytes).metadata();
  assert.equal(om.format, 'png');
  t.diagnostic(`${body.name}: score ${body.score!.toFixed(4)}, image ${meta.width}x${meta.height}, overlay ${om.width}x${om.height}`);
  assert.ok(Math.abs(om.width! / om.height! - meta.width! / meta.height!) < 0.01);
  // The same image as a raw body.
  const raw = await fetch(`${srv.url}api/predict?name=${encodeURIComponent('raw upload.png')}`, {
    method: 'POST',
    headers: { 'Content-Type': 'image/png' },
    body: readFileSync(img),
  });
  const rb = (await raw.json()) as Result;
  assert.equal(raw.status, 200);
  assert.equal(rb.name, 'raw upload.png');
  assert.ok(Math.abs(rb.score! - body.score!) < 1e-6, 'same image, same score');
});

test('scores of the reference images equal the PyTorch/numpy reference (frozen adapters, memory bank of the 2 normals)', async (t) => {
  const ref = e2eRef().predict;
  let e = 0;
  for (const [i, p] of ref.entries()) {
    const { res, body } = await predictFile(fx.test[i]);
    assert.equal(res.status, 200, body.error);
    assert.equal(body.name, basename(p.image));
    e = Math.max(e, near(body.score!, p.score_acas, 5e-5, `${body.name}: score`));
    near(body.zero_det, p.zero_det, 2e-5, `${body.name}: zero_det`);
  }
  t.diagnostic(`${ref.length} images: max score error ${e.toExponential(2)}`);
  const st = (await (await fetch(`${srv.url}api/status`)).json()) as { support_images: number };
  assert.equal(st.support_images, 2);
});

test('a DICOM upload is windowed to 8 bits and scored; its overlay keeps the aspect', async () => {
  const dcm = tinyDicom(90, 60, (x, y) => 400 + 20 * x + (Math.hypot(x - 60, y - 30) < 8 ? 2000 : 0));
  const fd = new FormData();
  fd.append('image', new Blob([dcm], { type: 'application/dicom' }), 'ct_slice.dcm');
  const res = await fetch(`${srv.url}api/predict`, { method: 'POST', body: fd });
  const body = (await res.json()) as Result & { error?: string };
  assert.equal(res.status, 200, body.error);
  assert.deepEqual([body.name, body.width, body.height], ['ct_slice.dcm', 90, 60]);
  assert.ok(Number.isFinite(body.score));
  const om = await sharp(Buffer.from(await (await fetch(new URL(body.overlay, srv.url))).arrayBuffer())).metadata();
  assert.deepEqual([om.width, om.height], [90, 60]);
  // A file with the DICOM marker but no readable data set is a 400 naming it.
  const broken = Buffer.concat([dcm.subarray(0, 140), Buffer.alloc(10, 0xff)]);
  const r2 = await fetch(`${srv.url}api/predict?name=broken.dcm`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: broken });
  assert.equal(r2.status, 400);
  assert.match(((await r2.json()) as { error: string }).error, /broken\.dcm/);
});

test('a corrupt PNG is a 400 naming the file; the server keeps working', async () => {
  const good = readFileSync(fx.test[0]);
  const corrupt = Buffer.concat([good.subarray(0, 60), Buffer.alloc(200, 7)]);
  const res = await fetch(`${srv.url}api/predict`, {
    method: 'POST',
    body: (() => {
      const fd = new FormData();
      fd.append('image', new Blob([corrupt], { type: 'image/png' }), 'scan_017.png');
      return fd;
    })(),
  });
  const body = (await res.json()) as { error: string };
  assert.equal(res.status, 400);
  assert.match(body.error, /scan_017\.png/);
  assert.match(body.error, /cannot decode|corrupt|truncated/i);
  const again = await predictFile(fx.test[0]);
  assert.equal(again.res.status, 200);
});

test('a text file named .png is refused (415) by its content; a text content type too', async () => {
  const fd = new FormData();
  fd.append('image', new Blob(['patient notes, not an image\n'], { type: 'image/png' }), 'notes.png');
  const res = await fetch(`${srv.url}api/predict`, { method: 'POST', body: fd });
  const body = (await res.json()) as { error: string };
  assert.equal(res.status, 415);
  assert.match(body.error, /notes\.png/);
  const fd2 = new FormData();
  fd2.append('image', new Blob([readFileSync(fx.test[0])], { type: 'text/plain' }), 'x.png');
  assert.equal((await fetch(`${srv.url}api/predict`, { method: 'POST', body: fd2 })).status, 415);
  const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
  const r3 = await fetch(`${srv.url}api/predict?name=a.gif`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: gif });
  assert.equal(r3.status, 415);
  const r4 = await fetch(`${srv.url}api/predict`, { method: 'POST', headers: { 'Content-Type': 'text/html' }, body: '<b>hi</b>' });
  assert.equal(r4.status, 415);
});

test('oversize uploads get 413 with a clear message (declared length, streamed, multipart)', async () => {
  const big = Buffer.concat([readFileSync(fx.test[0]), Buffer.alloc(1024 * 1024 + 10)]);
  const r1 = await fetch(`${srv.url}api/predict?name=big.png`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: big });
  const b1 = (await r1.json()) as { error: string };
  assert.equal(r1.status, 413);
  assert.match(b1.error, /too large.*1 MB/);
  const chunks = Array.from({ length: 24 }, () => Buffer.alloc(64 * 1024, 1));
  const r2 = await rawRequest(srv.url, '/api/predict?name=stream.png', {
    method: 'POST',
    headers: { 'Content-Type': 'image/png', 'Transfer-Encoding': 'chunked' },
    chunks,
  });
  assert.equal(r2.status, 413);
  const mp = multipart([{ field: 'image', name: 'big.png', type: 'image/png', data: big }]);
  const r3 = await rawRequest(srv.url, '/api/predict', {
    method: 'POST',
    headers: { 'Content-Type': mp.type, 'Transfer-Encoding': 'chunked' },
    chunks: [mp.body],
  });
  assert.equal(r3.status, 413);
  assert.match(jsonOf<{ error: string }>(r3).error, /big\.png.*too large/);
  assert.equal((await fetch(`${srv.url}api/status`)).status, 200);
});

test('a small file declaring a huge image is refused before decoding (413)', async () => {
  const bomb = await sharp({ create: { width: 10000, height: 6000, channels: 3, background: '#000' } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  assert.ok(bomb.length < 1024 * 1024, `${bomb.length} bytes`);
  const fd = new FormData();
  fd.append('image', new Blob([bomb], { type: 'image/png' }), 'bomb.png');
  const res = await fetch(`${srv.url}api/predict`, { method: 'POST', body: fd });
  const body = (await res.json()) as { error: string };
  assert.equal(res.status, 413);
  assert.match(body.error, /bomb\.png: the image is too large \(10000×6000 pixels/);
});

test('without adapters the server answers 409 with what to do', async () => {
  const bare = await serve(fx, { adapterPaths: [] });
  try {
    const st = (await (await fetch(`${bare.url}api/status`)).json()) as { ready: boolean; message: string };
    assert.equal(st.ready, false);
    assert.match(st.message, /train/);
    const { res } = await (async () => {
      const r = await fetch(`${bare.url}api/predict`, { method: 'POST', body: form('image', fx.test[0]) });
      return { res: r };
    })();
    assert.equal(res.status, 409);
  } finally {
    await bare.close();
  }
});

test('path traversal and odd paths are 404; result ids are random hex only', async () => {
  const { body } = await predictFile(fx.test[1]);
  const paths = [
    '/api/results/../../etc/passwd',
    '/api/results/..%2f..%2fetc%2fpasswd',
    '/api/results/%2e%2e/%2e%2e/etc/passwd',
    '/api/results/%2e%2e%2f%2e%2e%2fetc%2fpasswd.png',
    `/api/results/${body.id}.png/../../../../etc/passwd`,
    `/api/results/../results/${body.id}.png`,
    '/api/results/....//....//etc/passwd',
    '/api/results/%252e%252e%252fetc%252fpasswd',
    '/api/results/..\\..\\etc\\passwd',
    `/api/results/${body.id.toUpperCase()}.png`,
    '/api/results/%00.png',
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '//etc/passwd',
    '/static/../../etc/passwd',
    '/src/web/server.ts',
    '/package.json',
  ];
  for (const p of paths) {
    const r = await rawRequest(srv.url, p);
    assert.equal(r.status, 404, `${p} → ${r.status}`);
    assert.doesNotMatch(r.body.toString(), /root:|import |"dependencies"/);
  }
  assert.equal((await rawRequest(srv.url, `/api/results/${body.id}.png`)).status, 200);
  assert.equal((await rawRequest(srv.url, `/api/results/${'0'.repeat(32)}.png`)).status, 404);
  const m = await rawRequest(srv.url, '/api/predict');
  assert.equal(m.status, 405);
  assert.equal(m.headers.allow, 'POST');
});

test('POST /api/model loads only the files given at start (403 otherwise)', async () => {
  const copy = join(fx.dir, 'copy.safetensors');
  copyFileSync(fx.adapters, copy);
  for (const ask of [
    { clip: '/etc/passwd' },
    { adapters: '../../../../etc/passwd' },
    { adapters: copy },
    { clip: fx.adapters },
    { adapters: `${fx.dir}/../${basename(fx.dir)}/copy.safetensors` },
  ]) {
    const res = await fetch(`${srv.url}api/model`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(ask) });
    const body = (await res.json()) as { error: string };
    assert.equal(res.status, 403, JSON.stringify(ask));
    assert.match(body.error, /command line/);
  }
  const bad = await fetch(`${srv.url}api/model`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
  assert.equal(bad.status, 415);
  const ok = await fetch(`${srv.url}api/model`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ adapters: fx.adapters, organ: ORGAN }),
  });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { adapters: string }).adapters, fx.adapters);
});

test('cross-site posts and foreign Host headers are refused', async () => {
  const fd = multipart([{ field: 'image', name: 'a.png', type: 'image/png', data: readFileSync(fx.test[0]) }]);
  const u = new URL(srv.url);
  const cross = await rawRequest(srv.url, '/api/predict', {
    method: 'POST',
    headers: { 'Content-Type': fd.type, Origin: 'http://evil.example' },
    body: fd.body,
  });
  assert.equal(cross.status, 403);
  const rebinding = await rawRequest(srv.url, '/api/status', { headers: { Host: `evil.example:${u.port}` } });
  assert.equal(rebinding.status, 403);
  const same = await rawRequest(srv.url, '/api/predict', {
    method: 'POST',
    headers: { 'Content-Type': fd.type, Origin: `http://127.0.0.1:${u.port}` },
    body: fd.body,
  });
  assert.equal(same.status, 200);
});

test('results.json and results.csv list this session; CSV cells cannot start formulas', async () => {
  const fd = new FormData();
  fd.append('image', new Blob([readFileSync(fx.test[2])], { type: 'image/png' }), '+SUM(A1)-1.png');
  assert.equal((await fetch(`${srv.url}api/predict`, { method: 'POST', body: fd })).status, 200);
  const list = (await (await fetch(`${srv.url}api/results.json`)).json()) as { results: (Result & { overlay: string | null })[] };
  assert.ok(list.results.length >= 3);
  for (const r of list.results) assert.ok(r.overlay === null || /^\/api\/results\/[0-9a-f]{32}\.png$/.test(r.overlay));
  const csvRes = await fetch(`${srv.url}api/results.csv`);
  assert.match(csvRes.headers.get('content-disposition') ?? '', /attachment; filename="mvfa-results.csv"/);
  const csv = await csvRes.text();
  const lines = csv.trim().split('\r\n');
  assert.equal(lines[0], 'name,anomaly_score,zero_shot_score,few_shot_score,width,height,organ,adapters,seconds,created,id');
  assert.equal(lines.length, list.results.length + 1);
  assert.ok(
    lines.some((l) => l.startsWith("'+SUM(A1)-1.png,")),
    'text that looks like a formula is prefixed',
  );
});

test('a job that cannot start in time gets 503 with Retry-After; a stalled upload gets 408', async () => {
  const quick = await serve(fx, { timeoutMs: 1500, queue: 2 });
  try {
    // Occupy the worker for longer than the request timeout.
    const blocker = quick.queue.submit('task', () => new Promise((r) => setTimeout(r, 3000)));
    const t0 = Date.now();
    const r = await fetch(`${quick.url}api/predict`, { method: 'POST', body: form('image', fx.test[0]) });
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.ok(Date.now() - t0 < 2900, 'answered at the timeout, not when the worker got free');
    assert.equal(quick.queue.stats().pending, 0, 'the timed-out job left the queue');
    await blocker.result;
    const img = readFileSync(fx.test[0]);
    const stalled = await rawRequest(quick.url, '/api/predict?name=slow.png', {
      method: 'POST',
      headers: { 'Content-Type': 'image/png', 'Content-Length': String(img.length) },
      chunks: [img.subarray(0, 100), img.subarray(100, 200)],
      chunkDelayMs: 2500,
    }).catch((e: Error) => ({ status: -1, headers: {}, body: Buffer.from(e.message) }));
    assert.equal(stalled.status, 408, stalled.body.toString());
  } finally {
    await quick.close();
  }
});

test('training through the API: multipart upload, progress, adapters download, then predictions use them', async (t) => {
  const files = [
    ...fx.normal.map((p) => ({ field: 'normal[]', name: basename(p), type: 'image/png', data: readFileSync(p) })),
    ...fx.abnormal.map((p) => ({ field: 'abnormal[]', name: basename(p), type: 'image/png', data: readFileSync(p) })),
    ...fx.masks.map((p) => ({ field: 'mask[]', name: basename(p), type: 'image/png', data: readFileSync(p) })),
  ];
  const post = (f: typeof files, fields: Record<string, string>) => {
    const mp = multipart(f, fields);
    return rawRequest(srv.url, '/api/train', { method: 'POST', headers: { 'Content-Type': mp.type }, body: mp.body });
  };
  const tooMany = await post(files, { organ: ORGAN, epochs: '99' });
  assert.equal(tooMany.status, 400);
  assert.match(jsonOf<{ error: string }>(tooMany).error, /1 to 3/);
  const unpaired = await post([...files.slice(0, -1), { ...files.at(-1)!, name: 'other.png' }], { organ: ORGAN, epochs: '1' });
  assert.equal(unpaired.status, 400);
  assert.match(jsonOf<{ error: string }>(unpaired).error, /other\.png/);
  const started = await post(files, { organ: ORGAN, epochs: '1', augment: 'none' });
  assert.equal(started.status, 202, started.body.toString());
  const during = await predictFile(fx.test[3]);
  assert.equal(during.res.status, 503, 'no predictions while the model is being replaced');
  assert.equal(during.res.headers.get('retry-after'), '10');
  const again = await post(files, { organ: ORGAN, epochs: '1' });
  assert.equal(again.status, 409, 'one training run at a time');
  let st: { phase: string; error: string | null; step: number; steps: number } = jsonOf<{ training: never }>(started).training;
  const t0 = Date.now();
  while (st.phase !== 'done' && st.phase !== 'failed' && Date.now() - t0 < 120_000) {
    await new Promise((r) => setTimeout(r, 100));
    st = (await (await fetch(`${srv.url}api/train`)).json()) as typeof st;
  }
  assert.equal(st.phase, 'done', st.error ?? '');
  assert.equal(st.steps, 4, '2 normal + 2 abnormal images, one epoch');
  t.diagnostic(`trained in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const status = (await (await fetch(`${srv.url}api/status`)).json()) as { adapters: string; support_images: number; calibration: boolean };
  assert.equal(status.adapters, 'trained in this session');
  assert.equal(status.support_images, 2);
  assert.equal(status.calibration, true);
  const dl = await fetch(`${srv.url}api/adapters`);
  assert.equal(dl.status, 200);
  assert.match(dl.headers.get('content-disposition') ?? '', /\.safetensors"/);
  const file = join(fx.dir, 'downloaded.safetensors');
  writeFileSync(file, Buffer.from(await dl.arrayBuffer()));
  const { loadAdapters } = await import('../../src/mvfa/checkpoint.ts');
  const ck = await loadAdapters(file);
  assert.deepEqual(ck.adapters.levels, [1, 2]);
  assert.equal(ck.info.organ, ORGAN);
  assert.equal(ck.calibration?.task, 'AC+AS');
  const { res, body } = await predictFile(fx.test[3]);
  assert.equal(res.status, 200);
  // The same number from the library: the downloaded adapters, a memory bank of the uploaded normal images.
  const { Mvfa, loadClip, loadImageTensor, predict } = await import('../../src/index.ts');
  const clip = await loadClip(fx.clip);
  const model = await Mvfa.load(clip, file);
  await model.setSupport(await Promise.all(fx.normal.map(async (f) => (await loadImageTensor(f, { size: 56 })).tensor)));
  const lib = await predict(model, fx.test[3]);
  await model.release();
  await clip.release();
  t.diagnostic(`trained adapters: page API score ${body.score}, library score ${lib.score}`);
  near(body.score!, lib.score, 1e-6, 'page API vs library score');
  assert.notEqual(body.score, e2eRef().predict[3].score_acas, 'the trained adapters replaced the frozen ones');
});
