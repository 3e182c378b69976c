// Hostile inputs, one per #12 file hole, each run in a child process (see hostile-run.ts) so that its time and
// peak memory are its own: `node --import tsx test/io/hostile-cases.ts <case> <dir>` writes the attack file into
// <dir>, reads it with the library, and prints one JSON line {error, ms, maxRssMB}.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { openDicom, readDicom } from '../../src/io/medical/dicom.ts';
import { loadMedicalImages } from '../../src/io/medical/medical-image.ts';
import { readNifti } from '../../src/io/medical/nifti.ts';
import { readTorchStateDict } from '../../src/io/weights/torch-file.ts';
import { parseScriptCode } from '../../src/io/weights/torchscript-code.ts';
import * as B from './hostile-builders.ts';

type Case = (dir: string) => Promise<unknown>;

function put(dir: string, name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** RLE Lossless frame of rows x columns zero bytes (one segment of 128-byte replicate runs). */
function rleZeros(pixels: number): Uint8Array {
  const seg = new Uint8Array(Math.ceil(pixels / 128) * 2);
  for (let i = 0; i < seg.length; i += 2) seg[i] = 129; // replicate the next byte 128 times
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, 1, true);
  dv.setUint32(4, 64, true);
  return B.cat([header, seg]);
}

/** A pixel data element header (explicit VR, OB) announcing `length` bytes. */
function pixelHeader(length: number): Uint8Array {
  return B.cat([B.u16le(0x7fe0), B.u16le(0x0010), Uint8Array.of(0x4f, 0x42, 0, 0), B.u32le(length)]);
}

export const CASES: Record<string, Case> = {
  // Hole 1: 64 000 frames, one fragment each, with a Basic Offset Table (900 KB). Quadratic before: hours.
  'dicom-offset-table': async (dir) => {
    const n = 64_000;
    const frags = Array.from({ length: n }, () => Uint8Array.of(0xff, 0xd8));
    const file = B.dicomFile(
      B.TS.jpegBaseline,
      B.imageElements({ rows: 8, columns: 8, frames: n }),
      B.encapsulatedPixelData(
        frags.map((_, i) => i * 10),
        frags,
      ),
    );
    return readDicom(put(dir, 'offsets.dcm', file), { frame: 'all' });
  },
  // Hole 1: a billion frames declared over three fragments.
  'dicom-frame-count': async (dir) => {
    const frags = [Uint8Array.of(0xff, 0xd8), Uint8Array.of(0xff, 0xd8), Uint8Array.of(0xff, 0xd8)];
    const file = B.dicomFile(B.TS.jpegBaseline, B.imageElements({ rows: 8, columns: 8, frames: 1_000_000_000 }), B.encapsulatedPixelData([], frags));
    return openDicom(put(dir, 'frames.dcm', file));
  },
  // Hole 2: 1 GiB of zeros deflated to 1 MB, inside a pixel data element that announces 1 GiB.
  'dicom-deflate-bomb': async (dir) => {
    const head = B.cat([...B.imageElements({ rows: 16, columns: 16 }).map((e) => B.encodeElement(e, true)), pixelHeader(1024 << 20)]);
    const file = B.cat([B.dicomPreamble(B.TS.deflated), B.deflateZerosBomb(1024, head)]);
    return openDicom(put(dir, 'deflated.dcm', file));
  },
  // Hole 2: the same bomb behind a pixel data element that announces 256 bytes (a 16 x 16 image).
  'dicom-deflate-bomb-declared': async (dir) => {
    const head = B.cat([...B.imageElements({ rows: 16, columns: 16 }).map((e) => B.encodeElement(e, true)), pixelHeader(256)]);
    const file = B.cat([B.dicomPreamble(B.TS.deflated), B.deflateZerosBomb(1024, head)]);
    return openDicom(put(dir, 'declared.dcm', file));
  },
  // Hole 3: a 512 x 512 data set over a JPEG 2000 codestream that declares 20000 x 20000.
  'dicom-j2k-lying': async (dir) => {
    const file = B.dicomFile(B.TS.jpeg2000, B.imageElements({ rows: 512, columns: 512 }), B.encapsulatedPixelData([], [B.j2kCodestream(20000, 20000)]));
    return readDicom(put(dir, 'j2k.dcm', file));
  },
  // Hole 3: the same with JPEG-LS (SOF55 declares 20000 x 20000).
  'dicom-jpegls-lying': async (dir) => {
    const file = B.dicomFile(B.TS.jpegLs, B.imageElements({ rows: 512, columns: 512 }), B.encapsulatedPixelData([], [B.jpegLsStream(20000, 20000)]));
    return readDicom(put(dir, 'jls.dcm', file));
  },
  // Hole 7: the command line's loader on 8 RLE frames of 8192 x 8192 (1 MB each): 2 GB of float32 pixels.
  'dicom-cli-frames': async (dir) => {
    const frames = Array.from({ length: 8 }, () => rleZeros(8192 * 8192));
    const file = B.dicomFile(B.TS.rle, B.imageElements({ rows: 8192, columns: 8192, frames: 8 }), B.encapsulatedPixelData([], frames));
    return loadMedicalImages(put(dir, 'frames.dcm', file));
  },
  // Hole 6: a 352-byte NIfTI-1 file whose vox_offset is NaN.
  'nifti-nan-offset': async (dir) => readNifti(put(dir, 'nan.nii', B.niftiHeader({ dims: [64, 64, 1], voxOffset: NaN }))),
  // Hole 6: a negative dimension.
  'nifti-negative-dim': async (dir) => readNifti(put(dir, 'negative.nii', B.niftiHeader({ dims: [64, -64, 1] }))),
  // Hole 6: 32767^3 float64 voxels declared in a 352-byte file.
  'nifti-huge-dims': async (dir) => readNifti(put(dir, 'huge.nii', B.niftiHeader({ dims: [32767, 32767, 32767], datatype: 64 }))),
  // Hole 6: 1 GiB of zeros gzipped to 1 MB behind a header that declares 2048^3 voxels.
  'nifti-gzip-bomb-huge': async (dir) => readNifti(put(dir, 'bomb.nii.gz', B.gzipZerosBomb(1024, B.niftiHeader({ dims: [2048, 2048, 2048] })))),
  // Hole 6: 1 GiB of zeros gzipped behind a header that declares 64^3 uint8 voxels: only those are inflated.
  'nifti-gzip-bomb-small': async (dir) => {
    const v = await readNifti(put(dir, 'small.nii.gz', B.gzipZerosBomb(1024, B.niftiHeader({ dims: [64, 64, 64] }))));
    return `${v.data.length} voxels`;
  },
  // Hole 6/7: the largest volume accepted (2^27 uint8 voxels) as a 130 KB gzip bomb, through the command line's loader.
  'nifti-gzip-bomb-cli': async (dir) => {
    const items = await loadMedicalImages(put(dir, 'largest.nii.gz', B.gzipZerosBomb(129, B.niftiHeader({ dims: [1024, 1024, 128] }))));
    return `${items.length} slices`;
  },
  // Hole 13: a gzipped header with no voxel data.
  'nifti-truncated-gz': async (dir) => readNifti(put(dir, 'header-only.nii.gz', gzipSync(B.niftiHeader({ dims: [16, 16, 1] })))),
  // Hole 4: 1000 expanded views (stride 0) of 2^24 elements over a one-element storage (110 KB).
  'torch-many-views': async (dir) => {
    const views = Array.from({ length: 1000 }, (_, i) => ({ key: `v${i}`, offset: 0, size: [1 << 24], stride: [0] }));
    return readTorchStateDict(put(dir, 'views.pt', B.torchViewsArchive(1, views)));
  },
  // Hole 5: a TorchScript class whose __parameters__ line is 1 MB of escaped quotes.
  'torchscript-redos': async () => {
    const classes = new Map();
    parseScriptCode('__torch__/m', `class M(Module):\n  __parameters__ = ["${'\\"'.repeat(512 * 1024)}]\n`, classes);
    return `${classes.get('__torch__.m.M')?.parameters.length} parameters`;
  },
  // Hole 5: a 5 MiB code entry in a TorchScript archive.
  'torchscript-code-size': async (dir) => {
    const code = new TextEncoder().encode(`class M(Module):\n  __parameters__ = []\n${'#'.repeat(5 << 20)}\n`);
    const file = B.torchViewsArchive(4, [{ key: 'w', offset: 0, size: [4], stride: [1] }], {
      'archive/code/__torch__/m.py': code,
      'archive/constants.pkl': Uint8Array.of(0x80, 2, 0x29, 0x2e),
    });
    return readTorchStateDict(put(dir, 'script.pt', file));
  },
};

async function main(): Promise<void> {
  const [name, dir] = process.argv.slice(2);
  const run = CASES[name];
  if (!run) throw new Error(`unknown case ${name}`);
  const t0 = performance.now();
  let error: string | null = null;
  let result: unknown;
  try {
    result = await run(dir);
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  const ms = performance.now() - t0;
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ error, result: typeof result === 'string' ? result : undefined, ms, maxRssMB })}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
