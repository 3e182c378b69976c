import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { defaultLevels } from '../../src/web/model-host.ts';
import { WorkQueue } from '../../src/web/queue.ts';
import { ResultStore, csvCell, newResultId, type PredictionResult } from '../../src/web/results.ts';
import { acceptedType, checkImageUpload, cleanName, sniffImage } from '../../src/web/sniff.ts';
import { HttpError } from '../../src/web/http.ts';

test('magic numbers of the accepted formats, made by a real encoder', async () => {
  const raw = sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 200, g: 30, b: 30 } } });
  assert.equal(sniffImage(await raw.clone().png().toBuffer()), 'png');
  assert.equal(sniffImage(await raw.clone().jpeg().toBuffer()), 'jpeg');
  assert.equal(sniffImage(await raw.clone().tiff().toBuffer()), 'tiff');
  assert.equal(sniffImage(await raw.clone().webp().toBuffer()), 'webp');
  assert.equal(sniffImage(await raw.clone().gif().toBuffer()), null, 'GIF is not accepted');
  const bmp = Buffer.alloc(58);
  bmp.write('BM', 0, 'latin1');
  assert.equal(sniffImage(bmp), 'bmp');
  const dcm = Buffer.alloc(200);
  dcm.write('DICM', 128, 'latin1');
  assert.equal(sniffImage(dcm), 'dicom');
  for (const junk of ['', 'hello', '<svg xmlns="http://www.w3.org/2000/svg"/>', '%PDF-1.7', 'BM']) assert.equal(sniffImage(Buffer.from(junk)), null, junk);
});

test('declared types: image types, DICOM and generic ones pass; others and wrong content are 415 naming the file', async () => {
  for (const t of ['image/png', 'image/jpeg', 'image/tiff', 'image/bmp', 'image/webp', 'application/dicom', 'application/octet-stream', 'IMAGE/PNG; x=1', ''])
    assert.ok(acceptedType(t), t);
  for (const t of ['text/plain', 'image/svg+xml', 'text/html', 'application/pdf', 'image/gif']) assert.ok(!acceptedType(t), t);
  const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  assert.equal(checkImageUpload('a.png', 'image/png', png), 'png');
  assert.equal(checkImageUpload('a.jpg', 'image/jpeg', png), 'png', 'a PNG named .jpg is decoded as what it is');
  const e1 = (() => {
    try {
      checkImageUpload('x.svg', 'image/svg+xml', png);
    } catch (e) {
      return e as HttpError;
    }
  })();
  assert.equal(e1?.status, 415);
  const e2 = (() => {
    try {
      checkImageUpload('notes.png', 'image/png', Buffer.from('text'));
    } catch (e) {
      return e as HttpError;
    }
  })();
  assert.equal(e2?.status, 415);
  assert.match(e2!.message, /notes\.png/);
});

test('upload names: base name only, no control characters, bounded', () => {
  assert.equal(cleanName('../../etc/passwd'), 'passwd');
  assert.equal(cleanName('C:\\Users\\me\\scan 1.png'), 'scan 1.png');
  assert.equal(cleanName('..'), 'image');
  assert.equal(cleanName('a\u0000b\r\n<script>.png'), 'ab_script_.png');
  assert.equal(cleanName('Ultraschall_äöü.png'), 'Ultraschall_äöü.png');
  assert.equal(cleanName(undefined, 'upload'), 'upload');
  assert.equal(cleanName('x'.repeat(500)).length, 120);
});

test('CSV cells: quoting, and no formulas from text', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('=1+2'), "'=1+2");
  assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvCell('-0.25'), '-0.25', 'numbers stay numbers');
  assert.equal(csvCell('-1.5e-7'), '-1.5e-7');
  assert.equal(csvCell('-cmd|x'), "'-cmd|x");
});

function result(name: string): PredictionResult {
  return {
    id: newResultId(),
    name,
    score: 0.5,
    zero_det: 1,
    few_det: null,
    width: 4,
    height: 3,
    organ: 'o',
    adapters: 'a',
    seconds: 0.1,
    created: new Date(0).toISOString(),
  };
}

test('result images: LRU by count and bytes; metadata stays listed', () => {
  const store = new ResultStore(3, 1000);
  const rs = Array.from({ length: 5 }, (_, i) => result(`r${i}`));
  rs.slice(0, 3).forEach((r) => store.add(r, Buffer.alloc(100)));
  assert.ok(store.png(rs[0].id), 'touch r0 so r1 is the oldest');
  store.add(rs[3], Buffer.alloc(100));
  assert.equal(store.png(rs[1].id), undefined);
  assert.ok(store.png(rs[0].id));
  store.add(rs[4], Buffer.alloc(950));
  assert.equal(store.imageCount, 1, 'bytes over the cap evict the oldest');
  assert.ok(store.imageBytes <= 1000);
  const list = store.list();
  assert.equal(list.length, 5);
  assert.equal(list.filter((r) => r.overlay !== null).length, 1);
  assert.throws(() => store.add({ ...result('bad'), id: '../x' }, Buffer.alloc(1)));
});

test('work queue: one job at a time in order, bounded predictions, cancel before start', async () => {
  const q = new WorkQueue(2);
  let running = 0;
  let maxRunning = 0;
  const order: number[] = [];
  const job = (i: number) => async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, 20));
    order.push(i);
    running--;
    return i;
  };
  const a = q.submit('predict', job(1));
  const b = q.submit('predict', job(2));
  assert.throws(
    () => q.submit('predict', job(3)),
    (e: HttpError) => e.status === 503 && Number(e.headers['Retry-After']) >= 1,
  );
  const c = q.submit('task', job(4)); // tasks are not counted against the prediction limit
  const d = q.submit('task', job(5));
  assert.equal(d.cancel(), true);
  assert.equal(a.cancel(), false, 'a started at once');
  assert.deepEqual(await Promise.all([a.result, b.result, c.result]), [1, 2, 4]);
  assert.deepEqual(order, [1, 2, 4]);
  assert.equal(maxRunning, 1);
  const s = q.stats();
  assert.equal(s.pending, 0);
  assert.equal(s.refused, 1);
  const failing = q.submit('predict', async () => {
    throw new Error('boom');
  });
  await assert.rejects(failing.result, /boom/);
  assert.equal(await q.submit('predict', async () => 7).result, 7, 'a failed job does not stop the loop');
});

test('default adapter levels: quarters of the vision tower', () => {
  assert.deepEqual(defaultLevels(24), [6, 12, 18, 24]);
  assert.deepEqual(defaultLevels(12), [3, 6, 9, 12]);
  assert.deepEqual(defaultLevels(2), [1, 2]);
  assert.deepEqual(defaultLevels(1), [1]);
});

test('overlays of large images are scaled down with their aspect; small ones are kept', async () => {
  const { displayRaster } = await import('../../src/web/imaging.ts');
  const big = { width: 3000, height: 1500, channels: 3, data: new Uint8Array(3000 * 1500 * 3) };
  const d = displayRaster(big);
  assert.deepEqual([d.width, d.height], [1024, 512]);
  const small = { width: 320, height: 240, channels: 3, data: new Uint8Array(320 * 240 * 3) };
  assert.equal(displayRaster(small), small);
});

test('loopback addresses', async () => {
  const { isLoopback } = await import('../../src/web/server.ts');
  for (const h of ['127.0.0.1', '::1', 'localhost', '127.1.2.3']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.20', 'example.org']) assert.ok(!isLoopback(h), h);
});
