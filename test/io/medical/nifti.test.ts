// NIfTI reading: parity of header fields, scaled voxel values, affine/orientation, percentiles and 8-bit
// axial slices with nibabel + numpy on the volumes in fixtures/medical (see its README.md), whose
// references scripts/fixtures/medical_nifti.py wrote to nifti.ref.json.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';

import { NiftiError, niftiAxialSlices, niftiPercentiles, readNifti } from '../../../src/io/medical/nifti.ts';
import type { RasterU8 } from '../../../src/io/image/resample.ts';
import { assertRejectsWith, withTempDir } from '../helpers.ts';
import { countDiff, f64, maxAbsDiff, medical, readRef, u8 } from './medical-ref.ts';

interface NiftiRef {
  version: 1 | 2;
  dims: number[];
  pixdim: number[];
  datatype: number;
  littleEndian: boolean;
  sclSlope: number;
  sclInter: number;
  nibabelSlopeInter: [number | null, number | null];
  qformCode: number;
  sformCode: number;
  affine: number[][];
  axcodes: string[];
  f64: string;
  f32?: string;
  percentiles: [number, number];
  slicesAuto: string;
  slicesCanonical?: string;
  canonicalShape?: number[];
  slicesVolume1CenterWidth?: string;
}

const refs = readRef<Record<string, NiftiRef>>('nifti.ref.json');
const cases = Object.entries(refs).filter(([k]) => !k.startsWith('_'));

function f32(z: string): Float32Array {
  const b = inflateSync(Buffer.from(z, 'base64'));
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

function concat(rs: RasterU8[]): Uint8Array {
  const out = new Uint8Array(rs.reduce((a, r) => a + r.data.length, 0));
  let o = 0;
  for (const r of rs) {
    out.set(r.data, o);
    o += r.data.length;
  }
  return out;
}

for (const [file, r] of cases) {
  test(`nifti parity: ${file} (NIfTI-${r.version}, datatype ${r.datatype}) vs nibabel`, async () => {
    const v = await readNifti(medical(file), { dtype: 'float64' });
    assert.equal(v.version, r.version);
    assert.deepEqual(v.dims, r.dims);
    assert.deepEqual(v.pixdim, r.pixdim);
    assert.equal(v.datatype, r.datatype);
    assert.equal(v.littleEndian, r.littleEndian);
    assert.equal(v.sclSlope, r.sclSlope);
    assert.equal(v.sclInter, r.sclInter);
    const [s, i] = r.nibabelSlopeInter;
    assert.equal(v.scaled, s !== null && !(s === 1 && i === 0));
    assert.equal(v.qformCode, r.qformCode);
    assert.equal(v.sformCode, r.sformCode);
    assert.ok(maxAbsDiff(v.affine.flat(), r.affine.flat()) <= 1e-9, `affine ${JSON.stringify(v.affine)}`);
    assert.deepEqual(v.axisCodes, r.axcodes);
    // get_fdata() and get_fdata(dtype=np.float32), bit for bit.
    assert.equal(maxAbsDiff(v.data, f64(r.f64)), 0, 'float64 values');
    const v32 = await readNifti(medical(file));
    assert.ok(v32.data instanceof Float32Array);
    assert.equal(maxAbsDiff(v32.data, r.f32 ? f32(r.f32) : Float32Array.from(f64(r.f64))), 0, 'float32 values');
    // np.percentile(vol0, [0.5, 99.5]) and the expected slices.
    const per = r.dims[0] * r.dims[1] * r.dims[2];
    const p = niftiPercentiles(v.data.subarray(0, per), [0.5, 99.5]);
    assert.ok(Math.abs(p[0] - r.percentiles[0]) <= 1e-12 * Math.abs(r.percentiles[0]), `p0.5 ${p[0]} vs ${r.percentiles[0]}`);
    assert.ok(Math.abs(p[1] - r.percentiles[1]) <= 1e-12 * Math.abs(r.percentiles[1]), `p99.5 ${p[1]} vs ${r.percentiles[1]}`);
    const slices = niftiAxialSlices(v);
    assert.equal(slices.length, r.dims[2]);
    assert.ok(slices.every((x) => x.width === r.dims[0] && x.height === r.dims[1] && x.channels === 1));
    assert.equal(countDiff(concat(slices), u8(r.slicesAuto)), 0, 'auto-window slices');
    assert.equal(countDiff(concat(niftiAxialSlices(v32)), u8(r.slicesAuto)), 0, 'auto-window slices from float32');
    if (r.slicesCanonical && r.canonicalShape) {
      const can = niftiAxialSlices(v, { orientation: 'canonical' });
      assert.equal(can.length, r.canonicalShape[2]);
      assert.equal(can[0].width, r.canonicalShape[0]);
      assert.equal(can[0].height, r.canonicalShape[1]);
      assert.equal(countDiff(concat(can), u8(r.slicesCanonical)), 0, 'canonical slices');
    }
    if (r.slicesVolume1CenterWidth) {
      const s1 = niftiAxialSlices(v, { volume: 1, window: { center: 100, width: 400 } });
      assert.equal(countDiff(concat(s1), u8(r.slicesVolume1CenterWidth)), 0, 'volume 1, centre/width window');
      const s1b = niftiAxialSlices(v, { volume: 1, window: { min: -100, max: 300 } });
      assert.equal(countDiff(concat(s1b), concat(s1)), 0, 'min/max window equals centre/width window');
    }
  });
}

test('nifti: buffer input (.nii.gz bytes), scaling flags, stored orientation', async () => {
  const bytes = readFileSync(medical('syn_int16_slope.nii.gz'));
  const v = await readNifti(bytes, { name: 'mem.nii.gz' });
  assert.equal(v.file, 'mem.nii.gz');
  assert.equal(v.datatypeName, 'int16');
  assert.ok(v.scaled);
  // scl_slope = 0 means no scaling (NIfTI-1 standard), whatever scl_inter says.
  const z = await readNifti(medical('syn_uint8_slope0.nii'));
  assert.equal(z.sclSlope, 0);
  assert.equal(z.sclInter, 42);
  assert.equal(z.scaled, false);
  // Stored orientation: column c = i, row r = nj - 1 - j.
  const s = await readNifti(medical('standard.nii.gz'));
  const [ni, nj] = s.dims;
  const slices = niftiAxialSlices(s, { window: { min: 0, max: 255 } });
  for (let k = 0; k < s.dims[2]; k++) {
    for (let r = 0; r < nj; r++) {
      for (let c = 0; c < ni; c++) {
        assert.equal(slices[k].data[r * ni + c], s.data[c + ni * (nj - 1 - r) + ni * nj * k]);
      }
    }
  }
});

test('nifti: percentiles follow numpy linear interpolation on small arrays', () => {
  // np.percentile([1, 2, 3, 4], [0, 25, 50, 99.5, 100]) = [1, 1.75, 2.5, 3.985, 4]
  const p = niftiPercentiles([4, 1, 3, 2], [0, 25, 50, 99.5, 100]);
  assert.deepEqual(p, [1, 1.75, 2.5, 3.985, 4]);
  assert.deepEqual(niftiPercentiles([NaN, 5, Infinity], [0.5, 99.5]), [5, 5]);
  assert.ok(niftiPercentiles([NaN], [50]).every(Number.isNaN));
});

test('nifti: error messages name the file and the reason', async () => {
  await withTempDir(async (dir) => {
    const text = join(dir, 'notes.nii');
    writeFileSync(text, 'not a volume\n'.repeat(40));
    await assertRejectsWith(() => readNifti(text), `${text}: not a NIfTI file (no NIfTI-1 or NIfTI-2 header: bad sizeof_hdr or magic)`);
    const short = join(dir, 'short.nii');
    writeFileSync(short, 'tiny');
    await assertRejectsWith(() => readNifti(short), `${short}: not a NIfTI file (no NIfTI-1 or NIfTI-2 header: only 4 bytes)`);
    const empty = join(dir, 'empty.nii');
    writeFileSync(empty, new Uint8Array(0));
    await assertRejectsWith(() => readNifti(empty), `${empty}: empty file, 0 bytes`);
    const cut = join(dir, 'cut.nii');
    writeFileSync(cut, readFileSync(medical('syn_float32.nii')).subarray(0, 1000));
    await assertRejectsWith(() => readNifti(cut), `${cut}: truncated: 648 bytes of voxel data, expected 19200`);
    const gz = readFileSync(medical('syn_int16_slope.nii.gz'));
    const badGz = join(dir, 'bad.nii.gz');
    writeFileSync(badGz, gz.subarray(0, gz.length - 100));
    await assertRejectsWith(() => readNifti(badGz), /^.*bad\.nii\.gz: cannot decompress gzip data \(unexpected end of file\)$/);
    const lonely = join(dir, 'alone.hdr');
    copyFileSync(medical('syn_pair.hdr'), lonely);
    await assertRejectsWith(() => readNifti(lonely), `${lonely}: missing image file ${join(dir, 'alone.img')}`);
    await assertRejectsWith(() => readNifti(join(dir, 'nope.nii')), `${join(dir, 'nope.nii')}: no such file`);
  });
  const rgb = medical('syn_rgb24.nii');
  await assertRejectsWith(() => readNifti(rgb), `${rgb}: unsupported NIfTI datatype 128 (RGB24)`);
  await assert.rejects(
    () => readNifti(rgb),
    (e: unknown) => e instanceof NiftiError && e.file === rgb,
  );
  const v = await readNifti(medical('functional.nii'));
  assert.throws(() => niftiAxialSlices(v, { volume: 20 }), { message: `${medical('functional.nii')}: volume 20 out of range: the image has 20 volumes` });
});
