// #12 holes 1, 2, 3 and 7 (hostile DICOM files) and the worker-thread reader used by the server; the implicit-VR
// data set under an explicit transfer syntax that pydicom tolerates (#10). Every input is built here, byte by byte.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';

import { DicomError, readDicom } from '../../../src/io/medical/dicom.ts';
import { closeDicomWorker, readDicomIsolated } from '../../../src/io/medical/dicom-isolated.ts';
import { openMedicalImages } from '../../../src/io/medical/medical-image.ts';
import * as B from '../hostile-builders.ts';
import { withTempDir } from '../helpers.ts';
import { runHostile } from '../hostile-run.ts';

const named = (file: string, reason: string): RegExp => new RegExp(`^DicomError: \\S*${file.replace('.', '\\.')}: ${reason}`);

test('hole 1: a Basic Offset Table over 64 000 fragments is split in linear time', { timeout: 120_000 }, (t) => {
  // Before the fix the split was quadratic: 8 000 frames took 1.9 s, ×3.5-4 per doubling.
  runHostile(t, 'dicom-offset-table', {
    error: named('offsets.dcm', 'cannot decode frame 0 \\(JPEG Baseline \\(Process 1\\)\\): JPEG frame does not start with an SOI marker'),
    maxSeconds: 20,
    maxRssMB: 600,
  });
});

test('hole 1: a file cannot declare more frames than it holds fragments', { timeout: 120_000 }, (t) => {
  runHostile(t, 'dicom-frame-count', {
    error: named('frames.dcm', 'encapsulated pixel data holds 3 fragments, fewer than the 1000000000 frames declared'),
    maxSeconds: 10,
    maxRssMB: 400,
  });
});

test('hole 2: a deflated data set inflating to 1 GiB is refused at the inflate ceiling', { timeout: 120_000 }, (t) => {
  // Before: no output limit (65 KB became 64 MB, 266 KB became 256 MB and 870 MB of RSS).
  runHostile(t, 'dicom-deflate-bomb', {
    error: named('deflated.dcm', 'deflated data set inflates to more than the 268435456-byte ceiling \\(from 1061975 bytes\\); refused'),
    maxSeconds: 30,
    maxRssMB: 900,
  });
  // When the data set declares its size (a 256-byte Pixel Data element), inflating stops just past it.
  runHostile(t, 'dicom-deflate-bomb-declared', {
    error: named(
      'declared.dcm',
      'deflated data set inflates to more than the 368 bytes its elements declare \\(\\+1048576\\) \\(from 1061974 bytes\\); refused',
    ),
    maxSeconds: 10,
    maxRssMB: 400,
  });
});

test('hole 3: JPEG 2000 and JPEG-LS codestreams larger than the data set are refused before decoding', { timeout: 120_000 }, (t) => {
  // Before: the codestream was decoded in WebAssembly first (8192² under a 512² header: 2.8 s, ~1 GB).
  runHostile(t, 'dicom-j2k-lying', {
    error: named(
      'j2k.dcm',
      'cannot decode frame 0 \\(JPEG 2000 Image Compression \\(Lossless Only\\)\\): JPEG 2000 frame is 20000x20000x1, the data set says 512x512x1',
    ),
    maxSeconds: 10,
    maxRssMB: 400,
  });
  runHostile(t, 'dicom-jpegls-lying', {
    error: named('jls.dcm', 'cannot decode frame 0 \\(JPEG-LS Lossless Image Compression\\): JPEG-LS frame is 20000x20000x1, the data set says 512x512x1'),
    maxSeconds: 10,
    maxRssMB: 400,
  });
});

test('hole 7: the command-line loader applies the server pixel cap to every DICOM frame', { timeout: 120_000 }, (t) => {
  // Before: 4 such frames (4 MB file) took 10.5 s and 890 MB, keeping 256 MiB of rasters.
  runHostile(t, 'dicom-cli-frames', {
    error: named('frames.dcm', 'the image is too large \\(8192x8192 pixels; at most 50000000 are accepted\\)'),
    maxSeconds: 20,
    maxRssMB: 600,
  });
});

test('hole 7: openMedicalImages decodes DICOM frames one at a time', { timeout: 120_000 }, async () => {
  await withTempDir(async (dir) => {
    const side = 1024;
    const n = 6;
    // Replicate runs of 128 pixels, alternately 7 and 9; the last frame is corrupt (its RLE header has no segment).
    const seg = new Uint8Array(Math.ceil((side * side) / 128) * 2).map((_, i) => (i % 2 === 0 ? 129 : i % 4 === 1 ? 7 : 9));
    const header = B.cat([B.u32le(1), B.u32le(64), new Uint8Array(56)]);
    const frames = Array.from({ length: n }, (_, k) => (k < n - 1 ? B.cat([header, seg]) : new Uint8Array(64)));
    const path = `${dir}/cine.dcm`;
    writeFileSync(path, B.dicomFile(B.TS.rle, B.imageElements({ rows: side, columns: side, frames: n }), B.encapsulatedPixelData([], frames)));
    const images = await openMedicalImages(path);
    assert.equal(images.count, n);
    const seen: string[] = [];
    // Each frame is decoded when the iteration reaches it: the first five arrive before the sixth fails.
    await assert.rejects(
      (async () => {
        for await (const item of images) {
          assert.equal(item.raster.data.length, side * side);
          // Shown min..max: 7 -> 0, 9 -> 255.
          assert.deepEqual([item.raster.data[0], item.raster.data[128]], [0, 255]);
          seen.push(item.name);
        }
      })(),
      (e: unknown) => e instanceof DicomError && e.message.startsWith(`${path}: cannot decode frame 5 (RLE Lossless)`),
    );
    assert.deepEqual(
      seen,
      [0, 1, 2, 3, 4].map((k) => `cine.dcm#frame=${k}`),
    );
  });
});

test('the worker-thread reader gives what readDicom gives, keeps the event loop free, and enforces its time limit', { timeout: 120_000 }, async (t) => {
  const side = 4096;
  const seg = new Uint8Array(Math.ceil((side * side) / 128) * 2).map((_, i) => (i % 2 === 0 ? 129 : i % 7));
  const header = new Uint8Array(64);
  new DataView(header.buffer).setUint32(0, 1, true);
  new DataView(header.buffer).setUint32(4, 64, true);
  const file = B.dicomFile(B.TS.rle, B.imageElements({ rows: side, columns: side }), B.encapsulatedPixelData([], [B.cat([header, seg])]));
  try {
    await readDicomIsolated(file, { name: 'warm-up.dcm', frame: 'none' });
    let ticks = 0;
    let last = performance.now();
    let gap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      gap = Math.max(gap, now - last);
      last = now;
      ticks++;
    }, 5);
    const t0 = performance.now();
    const isolated = await readDicomIsolated(file, { name: 'big.dcm', dtype: 'float32' });
    const isolatedMs = performance.now() - t0;
    clearInterval(timer);
    const t1 = performance.now();
    const direct = await readDicom(file, { name: 'big.dcm', dtype: 'float32' });
    const directMs = performance.now() - t1;
    t.diagnostic(
      `4096² RLE frame: ${isolatedMs.toFixed(0)} ms in the worker (longest event-loop gap ${gap.toFixed(0)} ms, ${ticks} ticks), ${directMs.toFixed(0)} ms in-thread`,
    );
    assert.deepEqual({ ...isolated, frames: [] }, { ...direct, frames: [] });
    assert.deepEqual(isolated.frames[0].pixels, direct.frames[0].pixels);
    assert.ok(ticks > 0 && gap < 1000, `event loop blocked for ${gap} ms`);

    await assert.rejects(
      readDicomIsolated(file, { name: 'slow.dcm', timeoutMs: 1 }),
      (e: unknown) => e instanceof DicomError && /^slow\.dcm: reading took longer than 0\.001 s; refused$/.test(e.message),
    );
    // A fresh worker serves the next file; errors name it.
    await assert.rejects(readDicomIsolated(Uint8Array.of(1, 2, 3), { name: 'junk.dcm' }), {
      message: "junk.dcm: not a DICOM file (no 'DICM' marker at byte 128)",
    });
    const again = await readDicomIsolated(file, { name: 'again.dcm', frame: 'none' });
    assert.equal(again.rows, side);
  } finally {
    await closeDicomWorker();
  }
});

test('#10: a data set written in implicit VR under an explicit transfer syntax is read with a warning', async () => {
  const els = [...B.imageElements({ rows: 2, columns: 3, bits: 16 })];
  const pixels = B.encodeElement({ group: 0x7fe0, element: 0x0010, vr: 'OW', value: B.cat([1, 2, 3, 400, 500, 600].map(B.u16le)) }, false);
  const file = B.dicomFile(B.TS.explicitLE, els, pixels, { implicitBody: true });
  const img = await readDicom(file, { name: 'implicit.dcm' });
  assert.deepEqual([img.rows, img.columns, img.bitsAllocated], [2, 3, 16]);
  assert.deepEqual([...img.frames[0].pixels], [1, 2, 3, 400, 500, 600]);
  assert.deepEqual(img.warnings, [
    'the data set is encoded in implicit VR although its transfer syntax (1.2.840.10008.1.2.1) says explicit VR; read as implicit VR',
  ]);
  // The same file written consistently reads the same values with no warning.
  const ok = await readDicom(
    B.dicomFile(B.TS.explicitLE, els, B.encodeElement({ group: 0x7fe0, element: 0x0010, vr: 'OW', value: B.cat([1, 2, 3, 400, 500, 600].map(B.u16le)) }, true)),
    { name: 'explicit.dcm' },
  );
  assert.deepEqual([...ok.frames[0].pixels], [1, 2, 3, 400, 500, 600]);
  assert.deepEqual(ok.warnings, []);
  // Encapsulated pixel data in an implicit VR data set (pydicom's SC_rgb_jpeg.dcm is such a file) is split as usual.
  const j2k = B.dicomFile(B.TS.jpeg2000, B.imageElements({ rows: 512, columns: 512 }), B.encapsulatedPixelData([], [B.j2kCodestream(64, 64)], false), {
    implicitBody: true,
  });
  await assert.rejects(readDicom(j2k, { name: 'implicit-j2k.dcm' }), {
    message: /^implicit-j2k\.dcm: cannot decode frame 0 .*JPEG 2000 frame is 64x64x1, the data set says 512x512x1$/,
  });
});
