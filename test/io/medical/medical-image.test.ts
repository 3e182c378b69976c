// Format detection and the common loading path for DICOM / NIfTI / ordinary images.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { dicomToRaster, readDicom } from '../../../src/io/medical/dicom.ts';
import { encodePng, loadImageRgb8, loadImageTensor } from '../../../src/io/image/image.ts';
import { detectFormat, DETECT_HEAD_BYTES, loadMedicalImages, medicalRasterToTensor, toRgbRaster } from '../../../src/io/medical/medical-image.ts';
import { withTempDir } from '../helpers.ts';
import { countDiff, medical, readRef, u8 } from './medical-ref.ts';

const head = (p: string): Uint8Array => new Uint8Array(readFileSync(p).subarray(0, DETECT_HEAD_BYTES));

test('detectFormat: DICM marker, NIfTI-1/-2 headers in either byte order, .nii.gz, else raster', async () => {
  const cases: [string, string][] = [
    ['CT_small.dcm', 'dicom'],
    ['MR_small_bigendian.dcm', 'dicom'],
    ['rtplan.dcm', 'dicom'],
    ['anatomical.nii', 'nifti'], // big-endian NIfTI-1
    ['functional.nii', 'nifti'],
    ['syn_nifti2_f32.nii', 'nifti'], // NIfTI-2
    ['syn_pair.hdr', 'nifti'], // 'ni1'
    ['example_nifti2.nii.gz', 'nifti'],
    ['syn_int16_slope.nii.gz', 'nifti'],
    ['syn_pair.img', 'raster'],
    ['README.md', 'raster'],
  ];
  for (const [f, want] of cases) assert.equal(detectFormat(medical(f), head(medical(f))), want, f);
  // gzip magic alone is not enough: the name must say .nii.gz.
  const gz = head(medical('standard.nii.gz'));
  assert.equal(detectFormat('volume.nii.gz', gz), 'nifti');
  assert.equal(detectFormat('archive.tar.gz', gz), 'raster');
  await withTempDir(async (dir) => {
    const png = join(dir, 'x.png');
    await encodePng(new Uint8Array(12), 2, 2, 3, png);
    assert.equal(detectFormat(png, head(png)), 'raster');
  });
  assert.equal(detectFormat('empty', new Uint8Array(0)), 'raster');
});

test('loadMedicalImages: one named raster per DICOM frame', async () => {
  const items = await loadMedicalImages(medical('SC_rgb_rle_2frame.dcm'));
  assert.deepEqual(
    items.map((i) => [i.name, i.format, i.raster.channels]),
    [
      ['SC_rgb_rle_2frame.dcm#frame=0', 'dicom', 3],
      ['SC_rgb_rle_2frame.dcm#frame=1', 'dicom', 3],
    ],
  );
  const img = await readDicom(medical('SC_rgb_rle_2frame.dcm'), { frame: 'all' });
  for (const k of [0, 1]) assert.equal(countDiff(items[k].raster.data, dicomToRaster(img, { frame: k }).data), 0);
  const only = await loadMedicalImages(medical('SC_rgb_rle_2frame.dcm'), { frames: 1 });
  assert.deepEqual(
    only.map((i) => i.name),
    ['SC_rgb_rle_2frame.dcm#frame=1'],
  );

  // Single-frame grey CT: the raster pydicom's values give (dicom.ref.json, min..max as it has no window).
  const ref = readRef<Record<string, { raster0: string }>>('dicom.ref.json');
  const ct = await loadMedicalImages(medical('CT_small.dcm'));
  assert.deepEqual(
    ct.map((i) => [i.name, i.raster.channels, i.raster.width, i.raster.height]),
    [['CT_small.dcm', 1, 128, 128]],
  );
  assert.equal(countDiff(ct[0].raster.data, u8(ref['CT_small.dcm'].raster0)), 0);
});

test('loadMedicalImages: one named raster per NIfTI axial slice, matching nibabel + numpy', async () => {
  const ref = readRef<Record<string, { slicesAuto: string; slicesVolume1CenterWidth: string }>>('nifti.ref.json');
  const items = await loadMedicalImages(medical('anatomical.nii'));
  assert.equal(items.length, 25);
  assert.equal(items[0].name, 'anatomical.nii#z=000');
  assert.equal(items[24].name, 'anatomical.nii#z=024');
  assert.ok(items.every((i) => i.format === 'nifti' && i.raster.channels === 1 && i.raster.width === 33 && i.raster.height === 41));
  const all = new Uint8Array(items.flatMap((i) => [...i.raster.data]));
  assert.equal(countDiff(all, u8(ref['anatomical.nii'].slicesAuto)), 0);

  const v1 = await loadMedicalImages(medical('example_nifti2.nii.gz'), { volume: 1, niftiWindow: { center: 100, width: 400 } });
  assert.equal(v1.length, 12);
  assert.equal(v1[3].name, 'example_nifti2.nii.gz#z=003,t=1');
  const all1 = new Uint8Array(v1.flatMap((i) => [...i.raster.data]));
  assert.equal(countDiff(all1, u8(ref['example_nifti2.nii.gz'].slicesVolume1CenterWidth)), 0);
});

test('loadMedicalImages: ordinary images load as convert("RGB"); a slice follows the same tensor path', async () => {
  await withTempDir(async (dir) => {
    const [slice] = (await loadMedicalImages(medical('functional.nii'))).slice(1, 2);
    const png = join(dir, 'slice.png');
    await encodePng(slice.raster.data, slice.raster.width, slice.raster.height, 1, png);
    const items = await loadMedicalImages(png);
    assert.deepEqual(
      items.map((i) => [i.name, i.format, i.raster.channels]),
      [['slice.png', 'raster', 3]],
    );
    assert.equal(countDiff(items[0].raster.data, (await loadImageRgb8(png)).data), 0);
    assert.equal(countDiff(items[0].raster.data, toRgbRaster(slice.raster).data), 0);
    // The grey slice and its PNG give the same [3, 240, 240] tensor (resize + ToTensor, and CLIP normalisation).
    for (const normalize of ['none', 'clip'] as const) {
      const viaFile = (await loadImageTensor(png, { size: 240, normalize })).tensor;
      const direct = medicalRasterToTensor(slice.raster, { size: 240, normalize });
      assert.equal(direct.length, 3 * 240 * 240);
      assert.equal(countDiff(direct, viaFile), 0, normalize);
    }
  });
});

test('loadMedicalImages: errors name the file', async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, 'nope.dcm');
    await assert.rejects(() => loadMedicalImages(missing), { message: `${missing}: no such file` });
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'plain text\n');
    await assert.rejects(
      () => loadMedicalImages(text),
      (e: unknown) => e instanceof Error && e.message.startsWith(`${text}: cannot decode image`),
    );
    const bad = join(dir, 'bad.dcm');
    const ct = readFileSync(medical('CT_small.dcm'));
    writeFileSync(bad, ct.subarray(0, 3000));
    await assert.rejects(
      () => loadMedicalImages(bad),
      (e: unknown) => e instanceof Error && e.message.startsWith(`${bad}: truncated or corrupt DICOM data`),
    );
  });
});
