// Image decoding / preprocessing parity with Pillow (+ torchvision transforms as used by MVFA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { IMAGE_PIXEL_LIMIT, ImageDecodeError, decodeImage, encodePng, loadImageRgb8, loadImageTensor, loadMask } from '../../src/io/image.ts';
import { DATA_DIR, countDiff, makeTempDir, maxAbsDiff, readF32, readI32, runPyRef, type Job } from './image-pyref.ts';

const BUSI = join(DATA_DIR, 'BUSI_AD');
const REAL_IMAGES = [
  join(BUSI, 'test/good/img/busi_0002.png'), // grey 320x307
  join(BUSI, 'test/Ungood/img/busi_0042.png'), // grey 219x320
  join(BUSI, 'test/good/img/busi_0011.png'), // grey 320x240
  join(DATA_DIR, 'BrainFLAIR_masks/img/lgg_0001.png'), // RGB 320x320
  join(DATA_DIR, 'BrainFLAIR_masks/img/ms_0001.png'),
];
const REAL_MASKS = [
  join(BUSI, 'test/Ungood/anomaly_mask/busi_0001.png'),
  join(BUSI, 'test/Ungood/anomaly_mask/busi_0007.png'),
  join(BUSI, 'test/Ungood/anomaly_mask/busi_0042.png'),
  join(DATA_DIR, 'BrainFLAIR_masks/anomaly_mask/lgg_0001.png'),
  join(DATA_DIR, 'BrainFLAIR_masks/anomaly_mask/ms_0001.png'),
];

const KINDS = ['L', 'LA', 'RGB', 'RGBA', 'P', 'Pt', '1', 'g4', 'g16', 'g16low', 'la16', 'rgb16', 'rgba16'] as const;
const EXPECT: Record<(typeof KINDS)[number], { channels: 1 | 3; bitDepth: 8 | 16; alpha: boolean }> = {
  L: { channels: 1, bitDepth: 8, alpha: false },
  LA: { channels: 1, bitDepth: 8, alpha: true },
  RGB: { channels: 3, bitDepth: 8, alpha: false },
  RGBA: { channels: 3, bitDepth: 8, alpha: true },
  P: { channels: 3, bitDepth: 8, alpha: false },
  Pt: { channels: 3, bitDepth: 8, alpha: true },
  '1': { channels: 1, bitDepth: 8, alpha: false },
  g4: { channels: 1, bitDepth: 8, alpha: false },
  g16: { channels: 1, bitDepth: 16, alpha: false },
  g16low: { channels: 1, bitDepth: 16, alpha: false },
  la16: { channels: 1, bitDepth: 16, alpha: true },
  rgb16: { channels: 3, bitDepth: 16, alpha: false },
  rgba16: { channels: 3, bitDepth: 16, alpha: true },
};

test('PNG of every colour type decodes to PIL convert("RGB") bit-exactly', async (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    const make: Job[] = KINDS.map((kind, i) => ({ op: 'random_png', kind, width: 37, height: 23, seed: 40 + i, out: join(dir, `${kind}.png`) }));
    const made = runPyRef('image_pil_ref.py', make, dir);
    const ref: Job[] = KINDS.map((kind) => ({ op: 'raw', src: join(dir, `${kind}.png`), out: join(dir, `${kind}.rgb`) }));
    ref.push({ op: 'array', src: join(dir, 'g16.png'), out: join(dir, 'g16.i32') });
    runPyRef('image_pil_ref.py', ref, dir);
    for (const [i, kind] of KINDS.entries()) {
      const img = await decodeImage(join(dir, `${kind}.png`));
      const e = EXPECT[kind];
      assert.deepEqual([img.width, img.height, img.channels, img.bitDepth, img.hadAlpha], [37, 23, e.channels, e.bitDepth, e.alpha], kind);
      const rgb = await loadImageRgb8(join(dir, `${kind}.png`));
      const want = new Uint8Array(readFileSync(join(dir, `${kind}.rgb`)));
      assert.equal(countDiff(rgb.data, want), 0, `${kind} (PIL mode ${String(made.results[i].mode)})`);
    }
    // 'scale': full 16-bit range mapped linearly to 0..255 (values from PIL's own decode of the file)
    const raw16 = readI32(join(dir, 'g16.i32'));
    const scaled = await loadImageRgb8(join(dir, 'g16.png'), { bit16: 'scale' });
    for (let i = 0; i < raw16.length; i++) {
      assert.equal(scaled.data[i * 3], Math.round((raw16[i] / 65535) * 255), `pixel ${i} value ${raw16[i]}`);
    }
    t.diagnostic(`Pillow ${made.version}: ${KINDS.length} PNG kinds bit-exact`);
  } finally {
    cleanup();
  }
});

test('loadImageTensor equals PIL convert/Resize(BICUBIC)/ToTensor (float32, exact)', async (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    runPyRef(
      'image_pil_ref.py',
      [
        { op: 'random_png', kind: 'RGB', width: 240, height: 240, seed: 7, out: join(dir, 'sq.png') },
        { op: 'random_png', kind: 'P', width: 100, height: 60, seed: 8, out: join(dir, 'pal.png') },
      ],
      dir,
    );
    const srcs = [...REAL_IMAGES, join(dir, 'sq.png'), join(dir, 'pal.png')];
    const jobs: Job[] = [];
    srcs.forEach((src, i) => {
      jobs.push({ op: 'tensor', src, size: 240, out: join(dir, `t${i}.f32`) });
      jobs.push({ op: 'tensor', src, size: 240, normalize: 'clip', out: join(dir, `n${i}.f32`) });
    });
    jobs.push({ op: 'tensor', src: srcs[0], size: 224, out: join(dir, 'small.f32') });
    runPyRef('image_pil_ref.py', jobs, dir);
    let worst = 0;
    for (const [i, src] of srcs.entries()) {
      const plain = await loadImageTensor(src);
      assert.equal(plain.tensor.length, 3 * 240 * 240);
      assert.equal(maxAbsDiff(plain.tensor, readF32(join(dir, `t${i}.f32`))), 0, src);
      const clip = await loadImageTensor(src, { normalize: 'clip' });
      const err = maxAbsDiff(clip.tensor, readF32(join(dir, `n${i}.f32`)));
      worst = Math.max(worst, err);
      assert.equal(err, 0, `${src} (clip normalisation)`);
    }
    const small = await loadImageTensor(srcs[0], { size: 224 });
    assert.equal(maxAbsDiff(small.tensor, readF32(join(dir, 'small.f32'))), 0);
    const sq = await loadImageTensor(join(dir, 'sq.png'));
    assert.deepEqual([sq.width, sq.height], [240, 240]);
    t.diagnostic(`${srcs.length} images: tensors bit-exact, with and without CLIP normalisation`);
  } finally {
    cleanup();
  }
});

test('loadMask equals PIL Resize(NEAREST)/ToTensor/>0.5', async (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    runPyRef(
      'image_pil_ref.py',
      [
        { op: 'random_png', kind: 'L', width: 97, height: 131, seed: 9, out: join(dir, 'grey.png') },
        { op: 'random_png', kind: 'L', width: 240, height: 240, seed: 10, out: join(dir, 'sq.png') },
        { op: 'random_png', kind: 'g16low', width: 50, height: 41, seed: 11, out: join(dir, 'm16.png') },
      ],
      dir,
    );
    const srcs = [...REAL_MASKS, join(dir, 'grey.png'), join(dir, 'sq.png'), join(dir, 'm16.png')];
    const jobs: Job[] = [];
    srcs.forEach((src, i) => {
      jobs.push({ op: 'mask', src, size: 240, out: join(dir, `m${i}.u8`) });
      jobs.push({ op: 'mask', src, size: 77, out: join(dir, `s${i}.u8`) });
    });
    runPyRef('image_pil_ref.py', jobs, dir);
    let positives = 0;
    for (const [i, src] of srcs.entries()) {
      const m = await loadMask(src);
      const want = new Uint8Array(readFileSync(join(dir, `m${i}.u8`)));
      assert.equal(m.length, 240 * 240);
      assert.equal(countDiff(m, want), 0, src);
      positives += want.reduce((a, b) => a + b, 0);
      const s = await loadMask(src, 77);
      assert.equal(countDiff(s, new Uint8Array(readFileSync(join(dir, `s${i}.u8`)))), 0, `${src} at 77`);
    }
    assert.ok(positives > 1000, 'the real masks contain anomalies');
    t.diagnostic(`${srcs.length} masks bit-exact at 240 and 77 px`);
  } finally {
    cleanup();
  }
});

test('other containers: TIFF, GIF, BMP, lossless WebP exact; JPEG within 1, lossy WebP within 2', async (t) => {
  const { dir, cleanup } = makeTempDir();
  try {
    const rgbSrc = join(DATA_DIR, 'BrainFLAIR_masks/img/lgg_0001.png');
    const greySrc = REAL_IMAGES[0];
    runPyRef(
      'image_pil_ref.py',
      [
        { op: 'random_png', kind: 'g16', width: 31, height: 17, seed: 12, out: join(dir, 'g16.png') },
        { op: 'random_png', kind: 'P', width: 31, height: 17, seed: 13, out: join(dir, 'p.png') },
        { op: 'random_png', kind: '1', width: 29, height: 17, seed: 14, out: join(dir, 'b1.png') },
        { op: 'random_png', kind: 'RGBA', width: 31, height: 17, seed: 15, out: join(dir, 'rgba.png') },
      ],
      dir,
    );
    const saves: [string, string, string, Record<string, unknown>, number][] = [
      // [source, output name, format, options, tolerance]
      [rgbSrc, 'rgb.tif', 'TIFF', {}, 0],
      [greySrc, 'grey.tif', 'TIFF', {}, 0],
      [join(dir, 'g16.png'), 'g16.tif', 'TIFF', {}, 0],
      [join(dir, 'p.png'), 'p.gif', 'GIF', {}, 0],
      [rgbSrc, 'rgb.bmp', 'BMP', {}, 0],
      [greySrc, 'grey.bmp', 'BMP', {}, 0],
      [join(dir, 'p.png'), 'p.bmp', 'BMP', {}, 0],
      [join(dir, 'b1.png'), 'b1.bmp', 'BMP', {}, 0],
      [join(dir, 'rgba.png'), 'rgba.bmp', 'BMP', {}, 0],
      [rgbSrc, 'rgb-lossless.webp', 'WEBP', { lossless: true }, 0],
      [join(dir, 'rgba.png'), 'rgba.webp', 'WEBP', { lossless: true }, 0],
      [rgbSrc, 'rgb90.jpg', 'JPEG', { quality: 90 }, 1],
      [rgbSrc, 'rgb75.jpg', 'JPEG', { quality: 75 }, 1],
      [greySrc, 'grey.jpg', 'JPEG', { quality: 85 }, 1],
      [rgbSrc, 'rgb80.webp', 'WEBP', { quality: 80 }, 2],
    ];
    const jobs: Job[] = [];
    saves.forEach(([src, name, format, opts], i) => {
      const out = join(dir, `${i}-${name}`);
      jobs.push({ op: 'save', src, out, format, ...opts });
      jobs.push({ op: 'raw', src: out, out: `${out}.rgb` });
    });
    runPyRef('image_pil_ref.py', jobs, dir);
    for (const [i, [, name, format, , tol]] of saves.entries()) {
      const file = join(dir, `${i}-${name}`);
      const got = await loadImageRgb8(file);
      const want = new Uint8Array(readFileSync(`${file}.rgb`));
      const err = maxAbsDiff(got.data, want);
      t.diagnostic(`${format} ${name}: max abs diff ${err}, ${countDiff(got.data, want)}/${want.length} samples differ`);
      assert.ok(err <= tol, `${name}: max abs diff ${err} > ${tol}`);
    }
  } finally {
    cleanup();
  }
});

test('encodePng round-trips through PIL (grey and RGB)', async () => {
  const { dir, cleanup } = makeTempDir();
  try {
    const w = 19;
    const h = 7;
    const grey = new Uint8Array(w * h).map((_, i) => (i * 37) & 255);
    const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 101) & 255);
    await encodePng(grey, w, h, 1, join(dir, 'g.png'));
    const buf = await encodePng(rgb, w, h, 3);
    writeFileSync(join(dir, 'c.png'), buf);
    const res = runPyRef(
      'image_pil_ref.py',
      [
        { op: 'raw', src: join(dir, 'g.png'), mode: 'L', out: join(dir, 'g.raw') },
        { op: 'raw', src: join(dir, 'c.png'), out: join(dir, 'c.raw') },
      ],
      dir,
    );
    assert.deepEqual(
      res.results.map((r) => r.size),
      [
        [w, h],
        [w, h],
      ],
    );
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'g.raw'))), grey);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'c.raw'))), rgb);
    const back = await decodeImage(join(dir, 'g.png'));
    assert.equal(back.channels, 1, 'grey PNG stays single-channel');
  } finally {
    cleanup();
  }
});

function pngHeaderOnly(width: number, height: number): Buffer {
  // signature + IHDR (CRC ignored by the header probe is not assumed: compute it)
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  const type = Buffer.from('IHDR');
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const b of Buffer.concat([type, ihdr])) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  const crcBuf = Buffer.alloc(4);
  crcBuf.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), len, type, ihdr, crcBuf]);
}

function bmpHeaderOnly(width: number, height: number): Buffer {
  const b = Buffer.alloc(54);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(54 + width * height * 3, 2);
  b.writeUInt32LE(54, 10); // pixel data offset
  b.writeUInt32LE(40, 14); // BITMAPINFOHEADER
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26); // planes
  b.writeUInt16LE(24, 28); // bits per pixel
  return b;
}

test('clear errors naming the file: empty, truncated, not an image, missing, too many pixels', async () => {
  const { dir, cleanup } = makeTempDir();
  try {
    const real = readFileSync(REAL_IMAGES[0]);
    const files: [string, Buffer | null, RegExp][] = [
      ['empty.png', Buffer.alloc(0), /empty\.png: cannot decode image \(empty file, 0 bytes\)$/],
      ['truncated.png', real.subarray(0, Math.floor(real.length / 3)), /truncated\.png: cannot decode image \(truncated or corrupt data/],
      ['header.png', real.subarray(0, 30), /header\.png: cannot decode image \(corrupt or truncated header\)$/],
      ['notes.png', Buffer.from('this is a text file, not an image\n'), /notes\.png: cannot decode image \(unsupported or unrecognised image format\)$/],
      ['missing.png', null, /missing\.png: cannot read file \(no such file\)$/],
      [
        'huge.png',
        pngHeaderOnly(20000, 10000),
        /huge\.png: refusing to decode image \(image has 200000000 pixels \(20000x10000\), more than the limit of 178956970/,
      ],
      ['bad.bmp', Buffer.from('BM this is not really a bitmap'), /bad\.bmp: cannot decode image \(corrupt BMP header \(header size \d+\)\)$/],
      ['short.bmp', bmpHeaderOnly(10, 10), /short\.bmp: cannot decode image \(truncated BMP pixel data\)$/],
    ];
    for (const [name, content, re] of files) {
      const path = join(dir, name);
      if (content) writeFileSync(path, content);
      await assert.rejects(decodeImage(path), (err: unknown) => {
        assert.ok(err instanceof ImageDecodeError, `${name}: ${String(err)}`);
        assert.match(err.message, re);
        assert.equal(err.file, path);
        return true;
      });
      await assert.rejects(loadImageTensor(path), ImageDecodeError);
    }
    await assert.rejects(decodeImage(Buffer.alloc(0), { name: 'upload.png' }), /upload\.png: cannot decode image \(empty file/);
    // the limit is PIL's: refuse above 2 * MAX_IMAGE_PIXELS; exactly at the limit passes the guard
    assert.equal(IMAGE_PIXEL_LIMIT, 178956970);
    await assert.rejects(decodeImage(pngHeaderOnly(37, 23), { maxPixels: 850 }), /refusing to decode image/);
    await assert.rejects(decodeImage(pngHeaderOnly(37, 23), { maxPixels: 851 }), /cannot decode image \(/);
  } finally {
    cleanup();
  }
});
