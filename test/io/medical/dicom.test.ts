// DICOM reading: parity of decoded modality values, windowing and 8-bit rasters with pydicom (plus
// Pillow, GDCM and the uncompressed originals) on the files in fixtures/medical (see its README.md),
// whose references scripts/fixtures/medical_dicom.py wrote to dicom.ref.json.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { applyVoi, DicomError, dicomToRaster, dicomToRasters, readDicom } from '../../../src/io/medical/dicom.ts';
import { storedToValues } from '../../../src/io/medical/dicom-pixels.ts';
import { assertRejectsWith, withTempDir } from '../helpers.ts';
import { countDiff, f64, maxAbsDiff, medical, readRef, u8 } from './medical-ref.ts';

interface DicomRef {
  source: string;
  transferSyntax: string;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  numberOfFrames: number;
  modality: string | null;
  rescale: [number, number] | null;
  window: [number, number] | null;
  voiLutFunction: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
  frames: string[] | { sameAs: string };
  raster0: string;
  rasterMinMax0?: string;
  voi?: { yMin: number; yMax: number; b64: string };
}

const refs = readRef<Record<string, DicomRef>>('dicom.ref.json');
const cases = Object.entries(refs).filter(([k]) => !k.startsWith('_'));

function refFrames(r: DicomRef): string[] {
  return Array.isArray(r.frames) ? r.frames : (refs[r.frames.sameAs].frames as string[]);
}

for (const [file, r] of cases) {
  test(`dicom parity: ${file} (${r.transferSyntax}, ${r.photometric}) vs ${r.source}`, async () => {
    const img = await readDicom(medical(file), { frame: 'all' });
    assert.equal(img.transferSyntax.uid, r.transferSyntax);
    assert.equal(img.rows, r.rows);
    assert.equal(img.columns, r.columns);
    assert.equal(img.samplesPerPixel, r.samplesPerPixel);
    assert.equal(img.photometricInterpretation, r.photometric);
    assert.equal(img.bitsAllocated, r.bitsAllocated);
    assert.equal(img.bitsStored, r.bitsStored);
    assert.equal(img.pixelRepresentation, r.pixelRepresentation);
    assert.equal(img.signed, r.pixelRepresentation === 1);
    assert.equal(img.numberOfFrames, r.numberOfFrames);
    assert.equal(img.modality, r.modality ?? undefined);
    assert.equal(img.voiLutFunction, r.voiLutFunction);
    assert.deepEqual(img.window ? [img.window.center, img.window.width] : null, r.window);
    if (r.rescale) {
      assert.ok(img.rescaled);
      assert.deepEqual([img.rescaleSlope, img.rescaleIntercept], r.rescale);
    }
    const want = refFrames(r);
    assert.equal(img.frames.length, want.length);
    for (let k = 0; k < want.length; k++) {
      assert.equal(img.frames[k].index, k);
      const d = maxAbsDiff(img.frames[k].pixels, f64(want[k]));
      assert.equal(d, 0, `${file} frame ${k}: max |diff| ${d}`);
    }
    // 8-bit raster of frame 0 (file window when present, else min..max; MONOCHROME1 inverted).
    const raster = dicomToRaster(img);
    assert.equal(raster.width, r.columns);
    assert.equal(raster.height, r.rows);
    assert.equal(raster.channels, r.samplesPerPixel);
    assert.equal(countDiff(raster.data, u8(r.raster0)), 0, `${file}: raster differs`);
    if (r.rasterMinMax0) {
      assert.equal(countDiff(dicomToRaster(img, { window: 'minmax' }).data, u8(r.rasterMinMax0)), 0, `${file}: min-max raster differs`);
    }
    if (r.voi && r.window) {
      // pydicom's apply_voi_lut (output range yMin..yMax of the stored bits after rescale).
      const y = applyVoi(img.frames[0].pixels, { center: r.window[0], width: r.window[1] }, r.voiLutFunction, r.voi.yMin, r.voi.yMax);
      const d = maxAbsDiff(y, f64(r.voi.b64));
      assert.ok(d <= 1e-9 * (r.voi.yMax - r.voi.yMin), `${file}: VOI max |diff| ${d}`);
    }
  });
}

test('dicom: enhanced multi-frame applies per-frame rescale and the shared-group window', async () => {
  const img = await readDicom(medical('syn_enhanced_ct.dcm'), { frame: 'all' });
  assert.deepEqual(
    img.frames.map((f) => [f.rescaled, f.rescaleSlope, f.rescaleIntercept]),
    [
      [true, 1, -1024],
      [true, 1.25, -1014],
      [true, 1.5, -1004],
    ],
  );
  assert.ok(img.rescaled);
  assert.deepEqual(img.window, { center: 40, width: 400 });
  assert.deepEqual(img.frames[2].window, { center: 40, width: 400 });
});

test('dicom: frame selection, float32 output, buffer input', async () => {
  const path = medical('SC_rgb_rle_2frame.dcm');
  const all = await readDicom(path, { frame: 'all' });
  const one = await readDicom(readFileSync(path), { frame: 1, dtype: 'float32', name: 'two.dcm' });
  assert.equal(one.file, 'two.dcm');
  assert.deepEqual(
    one.frames.map((f) => f.index),
    [1],
  );
  assert.ok(one.frames[0].pixels instanceof Float32Array);
  assert.equal(maxAbsDiff(one.frames[0].pixels, all.frames[1].pixels), 0);
  assert.ok(maxAbsDiff(all.frames[0].pixels, all.frames[1].pixels) > 0, 'the two frames differ');
  const first = await readDicom(path);
  assert.deepEqual(
    first.frames.map((f) => f.index),
    [0],
  );
  const rasters = dicomToRasters(all);
  assert.deepEqual(
    rasters.map((x) => x.frame),
    [0, 1],
  );
  assert.equal(countDiff(rasters[1].raster.data, dicomToRaster(one).data), 0);
  assert.throws(() => dicomToRaster(one, { frame: 0 }), { message: 'two.dcm: frame 0 was not decoded (decoded: 1)' });
});

test('dicom: a given window overrides the file window (LINEAR, PS3.3 C.11.2.1.2.1)', async () => {
  const img = await readDicom(medical('MR_small.dcm'));
  const v = img.frames[0].pixels;
  const c = 1000;
  const w = 501;
  const r = dicomToRaster(img, { window: { center: c, width: w } });
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    // Reference written out from the standard's formula with y in [0, 255].
    const y = x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 255 : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
    assert.equal(r.data[i], Math.min(255, Math.max(0, Math.floor(y + 0.5))), `pixel ${i} (value ${x})`);
  }
  assert.throws(() => dicomToRaster(img, { window: { center: 0, width: 0.5 } }), /window width must be >= 1 for LINEAR/);
});

test('dicom: Bits Stored masking and sign extension (PS3.5 8.1.1)', () => {
  const out = new Float64Array(4);
  const base = { highBit: 11, preSigned: false, slope: 1, intercept: 0, rescale: false };
  // 12 bits stored in 16 allocated; bits 12-15 hold unrelated data (e.g. an overlay) and are ignored.
  storedToValues(Uint16Array.from([0x0fff, 0x0800, 0xf7ff, 0x1234]), { ...base, bitsStored: 12, pixelRepresentation: 1 }, out);
  assert.deepEqual([...out], [-1, -2048, 2047, 0x234]);
  storedToValues(Uint16Array.from([0x0fff, 0x0800, 0xf7ff, 0x1234]), { ...base, bitsStored: 12, pixelRepresentation: 0 }, out);
  assert.deepEqual([...out], [4095, 2048, 2047, 0x234]);
  storedToValues(
    Uint16Array.from([0, 1, 0xffff, 0x8000]),
    { ...base, highBit: 15, bitsStored: 16, pixelRepresentation: 1, slope: 2, intercept: -1, rescale: true },
    out,
  );
  assert.deepEqual([...out], [-1, 1, -3, -65537]);
});

test('dicom: error messages name the file and the reason', async () => {
  await withTempDir(async (dir) => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'This is a text file, not an image.\n'.repeat(10));
    await assertRejectsWith(() => readDicom(text), `${text}: not a DICOM file (no 'DICM' marker at byte 128)`);
    const empty = join(dir, 'empty.dcm');
    writeFileSync(empty, new Uint8Array(0));
    await assertRejectsWith(() => readDicom(empty), `${empty}: empty file, 0 bytes`);
    await assertRejectsWith(() => readDicom(join(dir, 'missing.dcm')), `${join(dir, 'missing.dcm')}: no such file`);
    // CT_small.dcm cut inside its pixel data.
    const ct = readFileSync(medical('CT_small.dcm'));
    const cut = join(dir, 'cut.dcm');
    writeFileSync(cut, ct.subarray(0, ct.length - 5000));
    await assertRejectsWith(() => readDicom(cut), `${cut}: truncated or corrupt DICOM data (buffer overrun)`);
  });
  const truncated = medical('MR_truncated.dcm');
  await assertRejectsWith(() => readDicom(truncated), `${truncated}: truncated or corrupt DICOM data (buffer overrun)`);
  const plan = medical('rtplan.dcm');
  await assertRejectsWith(() => readDicom(plan), `${plan}: no pixel data (7FE0,0010)`);
  const mpeg = medical('unsupported_mpeg2.dcm');
  await assertRejectsWith(() => readDicom(mpeg), `${mpeg}: unsupported transfer syntax 1.2.840.10008.1.2.4.100 (MPEG2 Main Profile / Main Level)`);
  const jpeg12 = medical('JPGExtended.dcm');
  await assertRejectsWith(
    () => readDicom(jpeg12),
    `${jpeg12}: cannot decode frame 0 (JPEG Extended (Process 2 and 4)): 12-bit lossy JPEG is not supported (only 8-bit)`,
  );
  const mf = medical('SC_rgb_rle_2frame.dcm');
  await assertRejectsWith(() => readDicom(mf, { frame: 2 }), `${mf}: frame 2 out of range: the file has 2 frames`);
  await assert.rejects(
    () => readDicom(plan),
    (e: unknown) => e instanceof DicomError && e.file === plan && e.reason === 'no pixel data (7FE0,0010)',
  );
});
