// #12 holes 6 and 13: NIfTI header fields that lie (NaN, negative, huge), gzip bombs, and a truncated .nii.gz whose
// missing voxels must never be read from other memory. Every input is built here, byte by byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { NiftiError, readNifti } from '../../../src/io/medical/nifti.ts';
import * as B from '../hostile-builders.ts';
import { runHostile } from '../hostile-run.ts';

const named = (file: string, reason: string): RegExp => new RegExp(`^NiftiError: \\S*${file.replace(/\./g, '\\.')}: ${reason}$`);

test('hole 6: header fields are validated before anything is allocated', { timeout: 120_000 }, (t) => {
  // Before: a NaN vox_offset passed the truncation check and failed with "RangeError: Invalid DataView length".
  runHostile(t, 'nifti-nan-offset', { error: named('nan.nii', 'invalid vox_offset NaN'), maxSeconds: 10, maxRssMB: 400 });
  runHostile(t, 'nifti-negative-dim', { error: named('negative.nii', 'invalid dimensions \\[64, -64, 1\\]'), maxSeconds: 10, maxRssMB: 400 });
  runHostile(t, 'nifti-huge-dims', {
    error: named('huge.nii', 'volume of 32767 x 32767 x 32767 = 35181150961663 voxels is larger than the 134217728 accepted'),
    maxSeconds: 10,
    maxRssMB: 400,
  });
});

test('hole 6: a gzip bomb inflates no further than its header says the file holds', { timeout: 120_000 }, (t) => {
  // Before: gunzip without a limit (256 MiB of zeros from a 269 KB file: 625 MB peak RSS).
  runHostile(t, 'nifti-gzip-bomb-huge', {
    error: named('bomb.nii.gz', 'volume of 2048 x 2048 x 2048 = 8589934592 voxels is larger than the 134217728 accepted'),
    maxSeconds: 10,
    maxRssMB: 400,
  });
  // 1 GiB of zeros behind a 64³ header: the volume is read (as nibabel does), the rest never inflated.
  runHostile(t, 'nifti-gzip-bomb-small', { error: null, result: '262144 voxels', maxSeconds: 10, maxRssMB: 400 });
  // The worst a file can do: the largest volume accepted, inflated, decoded and sliced (1.2 GB peak measured).
  runHostile(t, 'nifti-gzip-bomb-cli', { error: null, result: '128 slices', maxSeconds: 120, maxRssMB: 1536 });
});

test('hole 13: a truncated .nii.gz is refused instead of reading unrelated memory', { timeout: 120_000 }, async (t) => {
  // Before: the header-only file was read without error, its voxels taken from Node's shared Buffer pool.
  runHostile(t, 'nifti-truncated-gz', { error: named('header-only.nii.gz', 'truncated: 0 bytes of voxel data, expected 256'), maxSeconds: 10, maxRssMB: 400 });
  // In this process too, with other data sitting in the pool.
  const secret = Buffer.from('SECRET'.repeat(100));
  const gz = gzipSync(B.niftiHeader({ dims: [16, 16, 1] }));
  await assert.rejects(
    readNifti(gz, { name: 'cut.nii.gz' }),
    (e: unknown) => e instanceof NiftiError && e.message === 'cut.nii.gz: truncated: 0 bytes of voxel data, expected 256',
  );
  // One voxel short: still refused; complete: read, with exactly the bytes given.
  const voxels = Uint8Array.from({ length: 256 }, (_, i) => i);
  const full = B.cat([B.niftiHeader({ dims: [16, 16, 1] }), voxels]);
  await assert.rejects(readNifti(gzipSync(full.subarray(0, full.length - 1)), { name: 'short.nii.gz' }), {
    message: 'short.nii.gz: truncated: 255 bytes of voxel data, expected 256',
  });
  const v = await readNifti(gzipSync(full), { name: 'ok.nii.gz' });
  assert.deepEqual([...v.data], [...voxels]);
  void secret;
});

test('hole 6: an uncompressed file with vox_offset past its end or below the header is refused', async () => {
  await assert.rejects(readNifti(B.niftiHeader({ dims: [4, 4, 1], voxOffset: 1e9 }), { name: 'far.nii' }), {
    message: 'far.nii: truncated: 0 bytes of voxel data, expected 16',
  });
  await assert.rejects(readNifti(B.niftiHeader({ dims: [4, 4, 1], voxOffset: -352 }), { name: 'neg.nii' }), { message: 'neg.nii: invalid vox_offset -352' });
  await assert.rejects(readNifti(B.niftiHeader({ dims: [4, 4, 1], voxOffset: 100 }), { name: 'low.nii' }), { message: 'low.nii: invalid vox_offset 100' });
  await assert.rejects(readNifti(B.niftiHeader({ dims: [4, 4, 1], voxOffset: Infinity }), { name: 'inf.nii' }), {
    message: 'inf.nii: invalid vox_offset Infinity',
  });
});

test('a NaN pixdim leaves the axes as stored (nibabel reads such a file; its orientation is undefined)', async () => {
  const v = await readNifti(B.cat([B.niftiHeader({ dims: [2, 2, 1], pixdim: [1, NaN, 1, 1] }), Uint8Array.of(1, 2, 3, 4)]), { name: 'nan-pixdim.nii' });
  assert.deepEqual([...v.data], [1, 2, 3, 4]);
  assert.deepEqual(v.axisCodes, ['R', 'A', 'S']);
});
