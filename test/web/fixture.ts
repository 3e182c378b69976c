// Shared setup of the web tests: the tiny seeded CLIP (test/support/tiny-clip.ts), the demo BUSI images of the
// end-to-end reference (fixtures/e2e-ref), adapters trained in-process with the library's `train` at a learning rate
// that keeps them at initAdapters(seed) (so scores have reference values), and helpers for raw HTTP requests.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClip, train } from '../../src/index.ts';
import { type RunningServer, type ServeOptions, startServer } from '../../src/web/server.ts';
import { REPO } from '../support/fixtures.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';
import { FROZEN_LR, REF_ORGAN, REF_SEED, demoFiles, e2eRef, referenceTrainingSet, repoPath } from '../support/e2e.ts';

export { REPO };
export const ORGAN = REF_ORGAN;

export interface WebFixture {
  dir: string;
  clip: string;
  adapters: string;
  cache: string;
  /** The training folders; `normalDir` is also the server's memory bank (--support, no augmentation). */
  normalDir: string;
  normal: string[];
  abnormal: string[];
  masks: string[];
  /** Further demo images not used for training; the first ones are those of e2eRef().predict, in that order. */
  test: string[];
}

/** Tiny CLIP, 2 normal + 2 abnormal demo images with masks, frozen adapters (levels 1,2; size 56; task AC+AS). */
export async function makeFixture(prefix: string): Promise<WebFixture> {
  const dir = mkdtempSync(join(tmpdir(), `mvfa-web-${prefix}-`));
  const clip = await writeTinyClip(dir);
  const set = referenceTrainingSet(dir);
  const cache = join(dir, 'cache');
  const adapters = join(dir, 'adapters.safetensors');
  process.env.MVFA_CACHE = cache;
  const model = await loadClip(clip);
  await train(model, {
    normalDir: set.normal,
    abnormalDir: set.abnormal,
    masksDir: set.masks,
    organ: ORGAN,
    epochs: 1,
    lr: FROZEN_LR,
    augment: 'none',
    shuffle: false,
    seed: REF_SEED,
    levels: [1, 2],
    imageSize: 56,
    batchSize: 1,
    out: adapters,
  });
  await model.release();
  const ref = e2eRef();
  const refImages = ref.predict.map((p) => repoPath(p.image));
  const more = [...demoFiles('test/good/img').slice(16), ...demoFiles('test/Ungood/img').slice(16)];
  const names = (files: string[], sub: string) => files.map((f) => join(dir, sub, f.split('/').at(-1)!));
  return {
    dir,
    clip,
    adapters,
    cache,
    normalDir: set.normal,
    normal: names(ref.train.normals, 'normal'),
    abnormal: names(ref.train.abnormals, 'abnormal'),
    masks: names(ref.train.masks, 'masks'),
    test: [...refImages, ...more],
  };
}

/** Removes the fixture's temporary folder. */
export function dispose(fx: WebFixture | undefined): void {
  if (fx) rmSync(fx.dir, { recursive: true, force: true });
}

export function serve(fx: WebFixture, extra: Partial<ServeOptions> = {}): Promise<RunningServer> {
  return startServer({
    clipPaths: [fx.clip],
    adapterPaths: [fx.adapters],
    cacheDir: fx.cache,
    supportDir: fx.normalDir,
    supportAugment: 'none',
    host: '127.0.0.1',
    port: 0,
    ...extra,
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request with the path sent exactly as given (no URL normalisation), optionally with a streamed body. */
export function rawRequest(
  base: string,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: Buffer[]; chunkDelayMs?: number } = {},
): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.chunks) {
      const list = [...o.chunks];
      const next = () => {
        const c = list.shift();
        if (!c) return req.end();
        if (req.destroyed) return;
        req.write(c, () => setTimeout(next, o.chunkDelayMs ?? 0));
      };
      next();
    } else req.end(o.body);
  });
}

/** Multipart form body with the given files (field, name, type, bytes) and text fields. */
export function multipart(
  files: { field: string; name: string; type: string; data: Buffer }[],
  fields: Record<string, string> = {},
): { body: Buffer; type: string } {
  const boundary = `----mvfa${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.name}"\r\nContent-Type: ${f.type}\r\n\r\n`));
    parts.push(f.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

export function jsonOf<T = Record<string, unknown>>(r: RawResponse): T {
  return JSON.parse(r.body.toString('utf8')) as T;
}

/** A minimal DICOM Part 10 file (explicit VR little endian, MONOCHROME2, 16-bit, 12 bits stored). */
export function tinyDicom(width: number, height: number, pixel: (x: number, y: number) => number): Buffer {
  const el = (group: number, elem: number, vr: string, value: Buffer): Buffer => {
    const v = value.length % 2 ? Buffer.concat([value, Buffer.from(vr === 'UI' ? [0] : [0x20])]) : value;
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const head = Buffer.alloc(long ? 12 : 8);
    head.writeUInt16LE(group, 0);
    head.writeUInt16LE(elem, 2);
    head.write(vr, 4, 'latin1');
    if (long) head.writeUInt32LE(v.length, 8);
    else head.writeUInt16LE(v.length, 6);
    return Buffer.concat([head, v]);
  };
  const us = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
  };
  const str = (s: string) => Buffer.from(s, 'latin1');
  const sopClass = '1.2.840.10008.5.1.4.1.1.7';
  const sopInstance = '1.2.826.0.1.3680043.2.1125.1';
  const metaBody = Buffer.concat([
    el(2, 0x0001, 'OB', Buffer.from([0, 1])),
    el(2, 0x0002, 'UI', str(sopClass)),
    el(2, 0x0003, 'UI', str(sopInstance)),
    el(2, 0x0010, 'UI', str('1.2.840.10008.1.2.1')),
    el(2, 0x0012, 'UI', str('1.2.826.0.1.3680043.2.1125')),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.length);
  const pixels = Buffer.alloc(width * height * 2);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) pixels.writeUInt16LE(Math.max(0, Math.min(4095, Math.round(pixel(x, y)))), 2 * (y * width + x));
  return Buffer.concat([
    Buffer.alloc(128),
    str('DICM'),
    el(2, 0x0000, 'UL', groupLength),
    metaBody,
    el(0x0008, 0x0016, 'UI', str(sopClass)),
    el(0x0008, 0x0018, 'UI', str(sopInstance)),
    el(0x0008, 0x0060, 'CS', str('OT')),
    el(0x0028, 0x0002, 'US', us(1)),
    el(0x0028, 0x0004, 'CS', str('MONOCHROME2')),
    el(0x0028, 0x0010, 'US', us(height)),
    el(0x0028, 0x0011, 'US', us(width)),
    el(0x0028, 0x0100, 'US', us(16)),
    el(0x0028, 0x0101, 'US', us(12)),
    el(0x0028, 0x0102, 'US', us(11)),
    el(0x0028, 0x0103, 'US', us(0)),
    el(0x7fe0, 0x0010, 'OW', pixels),
  ]);
}
