// Image decoding / preprocessing parity with Pillow (+ torchvision transforms as used by MVFA). The references are
// committed in fixtures/images (scripts/fixtures/image_cases.py); image.reference.test.ts checks with live Pillow
// that Pillow reads what encodePng writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { IMAGE_PIXEL_LIMIT, ImageDecodeError, decodeImage, encodePng, loadImageRgb8, loadImageTensor, loadMask } from '../../../src/io/image/image.ts';
import {
  BUSI_A,
  BUSI_B,
  BUSI_C,
  MS,
  REAL_MASKS,
  assertSameBytes,
  caseBytes,
  caseI32,
  countDiff,
  imageCase,
  images,
  makeTempDir,
  maxAbsDiff,
  referenceVersions,
} from './image-pyref.ts';

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
  for (const kind of KINDS) {
    const file = images('png', `kind_${kind}.png`);
    const img = await decodeImage(file);
    const e = EXPECT[kind];
    assert.deepEqual([img.width, img.height, img.channels, img.bitDepth, img.hadAlpha], [37, 23, e.channels, e.bitDepth, e.alpha], kind);
    const rgb = await loadImageRgb8(file);
    const want = caseBytes(`kind ${kind}`);
    assert.equal(want.length, 37 * 23 * 3, `${kind}: reference length`);
    assert.equal(countDiff(rgb.data, want), 0, `${kind} (PIL mode ${imageCase(`kind ${kind}`).mode})`);
  }
  // 'scale': full 16-bit range mapped linearly to 0..255 (values from PIL's own decode of the file)
  const raw16 = caseI32('kind g16 samples');
  assert.equal(raw16.length, 37 * 23);
  const scaled = await loadImageRgb8(images('png', 'kind_g16.png'), { bit16: 'scale' });
  assert.equal(scaled.data.length, raw16.length * 3);
  for (let i = 0; i < raw16.length; i++) {
    assert.equal(scaled.data[i * 3], Math.round((raw16[i] / 65535) * 255), `pixel ${i} value ${raw16[i]}`);
  }
  t.diagnostic(`Pillow ${referenceVersions().pil}: ${KINDS.length} PNG kinds bit-exact`);
});

const TENSOR_SOURCES = [BUSI_A, BUSI_C, BUSI_B, images('rgb_real.png'), MS, images('png', 'rgb240.png'), images('png', 'pal100x60.png')];

test('loadImageTensor equals PIL convert/Resize(BICUBIC)/ToTensor (float32, exact)', async (t) => {
  for (const src of TENSOR_SOURCES) {
    const name = basename(src);
    const plain = await loadImageTensor(src, { size: 240 });
    assert.equal(plain.tensor.length, 3 * 240 * 240);
    assertSameBytes(plain.tensor, `tensor ${name} 240 none`, `${name}`);
    const clip = await loadImageTensor(src, { size: 240, normalize: 'clip' });
    assertSameBytes(clip.tensor, `tensor ${name} 240 clip`, `${name} (clip normalisation)`);
  }
  const small = await loadImageTensor(BUSI_A, { size: 224 });
  assert.equal(small.tensor.length, 3 * 224 * 224);
  assertSameBytes(small.tensor, 'tensor busi_0071.png 224 none');
  const sq = await loadImageTensor(images('png', 'rgb240.png'), { size: 240 });
  assert.deepEqual([sq.width, sq.height], [240, 240]);
  t.diagnostic(`${TENSOR_SOURCES.length} images: tensors bit-exact, with and without CLIP normalisation`);
});

test('loadMask equals PIL Resize(NEAREST)/ToTensor/>0.5', async (t) => {
  const srcs = [...REAL_MASKS, images('png', 'grey97x131.png'), images('png', 'grey240.png'), images('png', 'm16_50x41.png')];
  let positives = 0;
  for (const src of srcs) {
    const name = basename(src);
    const m = await loadMask(src, 240);
    const want = caseBytes(`mask ${name} 240`);
    assert.equal(want.length, 240 * 240);
    assert.equal(m.length, 240 * 240);
    assert.equal(countDiff(m, want), 0, src);
    positives += want.reduce((a, b) => a + b, 0);
    const s = await loadMask(src, 77);
    assert.equal(countDiff(s, caseBytes(`mask ${name} 77`)), 0, `${src} at 77`);
  }
  assert.ok(positives > 1000, 'the real masks contain anomalies');
  t.diagnostic(`${srcs.length} masks bit-exact at 240 and 77 px`);
});

test('other containers: TIFF, GIF, BMP, lossless WebP exact; JPEG within 1, lossy WebP within 2', async (t) => {
  const saves: [string, string, number][] = [
    // [output name, format, tolerance]; crops of real images and synthetic PNGs re-encoded by Pillow
    ['rgb.tif', 'TIFF', 0],
    ['grey.tif', 'TIFF', 0],
    ['g16.tif', 'TIFF', 0],
    ['p.gif', 'GIF', 0],
    ['rgb.bmp', 'BMP', 0],
    ['grey.bmp', 'BMP', 0],
    ['p.bmp', 'BMP', 0],
    ['b1.bmp', 'BMP', 0],
    ['rgba.bmp', 'BMP', 0],
    ['rgb-lossless.webp', 'WEBP', 0],
    ['rgba.webp', 'WEBP', 0],
    ['rgb90.jpg', 'JPEG', 1],
    ['rgb75.jpg', 'JPEG', 1],
    ['grey.jpg', 'JPEG', 1],
    ['rgb80.webp', 'WEBP', 2],
  ];
  for (const [name, format, tol] of saves) {
    const got = await loadImageRgb8(images('png', name));
    if (tol === 0) {
      assertSameBytes(got.data, `container ${name}`, `${format} ${name}`);
      t.diagnostic(`${format} ${name}: bit-exact`);
      continue;
    }
    const want = caseBytes(`container ${name}`);
    const err = maxAbsDiff(got.data, want);
    t.diagnostic(`${format} ${name}: max abs diff ${err}, ${countDiff(got.data, want)}/${want.length} samples differ`);
    assert.ok(err <= tol, `${name}: max abs diff ${err} > ${tol}`);
  }
});

test('encodePng round-trips (grey and RGB) and keeps grey single-channel', async () => {
  const { dir, cleanup } = makeTempDir();
  try {
    const w = 19;
    const h = 7;
    const grey = new Uint8Array(w * h).map((_, i) => (i * 37) & 255);
    const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 101) & 255);
    await encodePng(grey, w, h, 1, join(dir, 'g.png'));
    const back = await decodeImage(join(dir, 'g.png'));
    assert.deepEqual([back.width, back.height, back.channels, back.bitDepth], [w, h, 1, 8], 'grey PNG stays single-channel');
    assert.deepEqual(
      (await loadImageRgb8(join(dir, 'g.png'))).data,
      new Uint8Array(w * h * 3).map((_, i) => grey[Math.floor(i / 3)]),
    );
    const c = await decodeImage(await encodePng(rgb, w, h, 3));
    assert.deepEqual([c.width, c.height, c.channels], [w, h, 3]);
    assert.deepEqual((await loadImageRgb8(await encodePng(rgb, w, h, 3))).data, rgb);
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
    const real = readFileSync(BUSI_A);
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
      await assert.rejects(loadImageTensor(path, { size: 240 }), ImageDecodeError);
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
