// Structured fuzzing of the attacks of #12 that random byte mutations do not reach: multi-frame DICOM with offset
// tables, deflated DICOM, JPEG 2000 / JPEG-LS codestreams with lying headers, many-view torch files, TorchScript code
// entries, NIfTI header fields (NaN, negative, huge) and gzip bombs. Every generated input must be read or refused
// with the reader's own error class and a message, each case within a time limit and without a large allocation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { DicomError, readDicom } from '../../src/io/medical/dicom.ts';
import { NiftiError, niftiAxialSlices, readNifti } from '../../src/io/medical/nifti.ts';
import { WeightFileError, isHostTensor } from '../../src/io/weights/tensor.ts';
import { decodeTorchStateDict } from '../../src/io/weights/torch-file.ts';
import * as B from './hostile-builders.ts';
import { rng } from './helpers.ts';

const CASES = 60;
const MAX_CASE_MS = 5000;
const MAX_EXTRA_BYTES = 320 * 1024 * 1024;

type Gen = (rand: () => number, pick: (n: number) => number) => { name: string; run: () => Promise<unknown> };

async function fuzz(t: { diagnostic: (s: string) => void }, label: string, seed: number, errClass: new (...a: never[]) => Error, gen: Gen): Promise<void> {
  const rand = rng(seed);
  const pick = (n: number): number => Math.floor(rand() * n);
  const base = process.memoryUsage().arrayBuffers;
  let read = 0;
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const c = gen(rand, pick);
    const t0 = performance.now();
    try {
      await c.run();
      read++;
    } catch (e) {
      if (!(e instanceof errClass) || !e.message.includes(c.name)) {
        assert.fail(`${label} #${i} (${c.name}): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
      }
      refused++;
    }
    const ms = performance.now() - t0;
    assert.ok(ms < MAX_CASE_MS, `${label} #${i} (${c.name}): took ${ms.toFixed(0)} ms`);
    const extra = process.memoryUsage().arrayBuffers - base;
    assert.ok(extra < MAX_EXTRA_BYTES, `${label} #${i} (${c.name}): ${extra} bytes of array buffers held`);
  }
  t.diagnostic(`${label}: ${CASES} cases, ${read} read, ${refused} refused with ${errClass.name}`);
  assert.ok(refused > 0, `${label}: nothing was refused`);
}

const SIDES = [0, 1, 7, 512, 65535];
const COUNTS = [0, 1, 2, 3, 17, 1000, 2 ** 31 - 1];

test('fuzz: multi-frame encapsulated DICOM with offset tables', { timeout: 300_000 }, async (t) => {
  await fuzz(t, 'offset tables', 101, DicomError, (rand, pick) => {
    if (rand() < 0.3) {
      // Well-formed RLE frames (constant rows x rows), true offsets: must be read.
      const rows = 1 + pick(11);
      const seg = rows === 1 ? Uint8Array.of(0, pick(256)) : Uint8Array.of(257 - rows * rows, pick(256));
      const header = B.cat([B.u32le(1), B.u32le(64), new Uint8Array(56)]);
      const frame = B.cat([header, seg]);
      const n = 1 + pick(2000);
      const frames = Array.from({ length: n }, () => frame);
      const file = B.dicomFile(
        B.TS.rle,
        B.imageElements({ rows, columns: rows, frames: n }),
        B.encapsulatedPixelData(
          frames.map((_, i) => i * (frame.length + 8)),
          frames,
        ),
      );
      return {
        name: 'rle.dcm',
        run: async () => assert.equal((await readDicom(file, { name: 'rle.dcm', frame: rand() < 0.5 ? 'all' : n - 1 })).frames[0].pixels.length, rows * rows),
      };
    }
    const frags = Array.from({ length: 1 + pick(3000) }, () => (rand() < 0.5 ? Uint8Array.of(0xff, 0xd8) : new Uint8Array(2 * pick(4))));
    const frames = rand() < 0.5 ? frags.length : COUNTS[pick(COUNTS.length)];
    const mode = pick(4);
    // Offsets: true ones, shuffled, huge, or none.
    let o = 0;
    const truth = frags.map((f) => ((o += f.length + 8), o - f.length - 8));
    const offsets = mode === 0 ? truth : mode === 1 ? truth.map(() => pick(o + 16)) : mode === 2 ? truth.map(() => 0xffffffff - pick(9)) : [];
    const rows = 1 + pick(8);
    const file = B.dicomFile(
      [B.TS.jpegBaseline, B.TS.rle, B.TS.jpeg2000][pick(3)],
      B.imageElements({ rows, columns: rows, frames }),
      B.encapsulatedPixelData(offsets.slice(0, rand() < 0.8 ? offsets.length : pick(offsets.length)), frags),
    );
    return { name: 'mf.dcm', run: () => readDicom(file, { name: 'mf.dcm', frame: 'all' }) };
  });
});

test('fuzz: deflated DICOM (bombs, truncated and corrupt streams)', { timeout: 300_000 }, async (t) => {
  await fuzz(t, 'deflated', 102, DicomError, (rand, pick) => {
    const side = 1 + pick(64);
    if (rand() < 0.3) {
      // A well-formed deflated file: must be read.
      const pixels = Uint8Array.from({ length: side * side + (side % 2) }, () => pick(256));
      const file = B.dicomFile(
        B.TS.deflated,
        B.imageElements({ rows: side, columns: side }),
        B.encodeElement({ group: 0x7fe0, element: 0x0010, vr: 'OB', value: pixels }, true),
      );
      return {
        name: 'ok.dcm',
        run: async () =>
          assert.deepEqual([...(await readDicom(file, { name: 'ok.dcm', maxInflatedBytes: 8 << 20 })).frames[0].pixels], [...pixels.subarray(0, side * side)]),
      };
    }
    const head = B.cat([...B.imageElements({ rows: side, columns: side }).map((e) => B.encodeElement(e, true))]);
    const mib = 1 + pick(24);
    const announce = [side * side, mib << 20, 0xfffffffe, pick(1 << 20)][pick(4)];
    let body = B.deflateZerosBomb(mib, B.cat([head, B.u16le(0x7fe0), B.u16le(0x0010), Uint8Array.of(0x4f, 0x42, 0, 0), B.u32le(announce)]));
    if (rand() < 0.3) body = body.subarray(0, pick(body.length));
    if (rand() < 0.2) body = body.map((b) => (rand() < 0.001 ? pick(256) : b));
    const file = B.cat([B.dicomPreamble(B.TS.deflated), body]);
    // A ceiling below most bombs here, so that the refusal path is exercised at small sizes.
    return { name: 'deflated.dcm', run: () => readDicom(file, { name: 'deflated.dcm', maxInflatedBytes: 8 << 20 }) };
  });
});

test('fuzz: JPEG 2000 and JPEG-LS codestreams whose headers disagree with the data set', { timeout: 300_000 }, async (t) => {
  await fuzz(t, 'codestream headers', 103, DicomError, (rand, pick) => {
    const ls = rand() < 0.5;
    const w = SIDES[pick(SIDES.length)];
    const h = SIDES[pick(SIDES.length)];
    const comps = [0, 1, 3, 4, 65535][pick(5)];
    let stream = ls ? B.jpegLsStream(w, h, Math.min(comps, 255)) : B.j2kCodestream(w, h, Math.min(comps, 64));
    if (rand() < 0.3) stream = stream.subarray(0, pick(stream.length));
    if (rand() < 0.3) stream = B.cat([stream, Uint8Array.from({ length: pick(256) }, () => pick(256))]);
    if (stream.length % 2) stream = B.cat([stream, Uint8Array.of(0)]);
    const rows = 1 + pick(600);
    const file = B.dicomFile(
      ls ? B.TS.jpegLs : B.TS.jpeg2000,
      B.imageElements({ rows, columns: rows, samples: rand() < 0.8 ? 1 : 3 }),
      B.encapsulatedPixelData([], [stream]),
    );
    return { name: 'codestream.dcm', run: () => readDicom(file, { name: 'codestream.dcm' }) };
  });
});

test('fuzz: torch files with many and strided views', { timeout: 300_000 }, async (t) => {
  await fuzz(t, 'views', 104, WeightFileError, (rand, pick) => {
    const numel = [0, 1, 16, 1024, 1 << 16][pick(5)];
    const sane = rand() < 0.4;
    const views = Array.from({ length: 1 + pick(300) }, (_, i) => {
      if (sane || rand() < 0.7) return { key: `t${i}`, offset: pick(2), size: [Math.max(0, numel - 2)], stride: [1] };
      const nd = 1 + pick(3);
      const size = Array.from({ length: nd }, () => [0, 1, 2, 7, 64, 1 << 12, 1 << 24][pick(7)]);
      const stride = Array.from({ length: nd }, () => [0, 1, 2, 16, 1 << 10][pick(5)]);
      return { key: `t${i}`, offset: pick(numel + 2), size, stride };
    });
    const file = B.torchViewsArchive(numel, views);
    return {
      name: 'views.pt',
      run: async () => {
        for (const x of (await decodeTorchStateDict(file, 'views.pt')).values()) assert.ok(isHostTensor(x));
      },
    };
  });
});

test('fuzz: TorchScript code entries (quotes, escapes, long lines)', { timeout: 300_000 }, async (t) => {
  const pieces = ['"', "'", '\\', '\\"', ', ', ']', '[', 'w', ' ', '\n', '__parameters__ = [', '__buffers__ = [', 'class A(Module):\n', '  '];
  await fuzz(t, 'script code', 105, WeightFileError, (rand, pick) => {
    const parts = Array.from({ length: pick(2000) }, () => pieces[pick(pieces.length)].repeat(rand() < 0.005 ? 1 + pick(20_000) : 1));
    if (rand() < 0.2) parts.push('#'.repeat(4 << 20));
    const code = new TextEncoder().encode(`class M(Module):\n  __parameters__ = [${parts.join('')}]\n${parts.reverse().join('')}`);
    const file = B.torchViewsArchive(4, [{ key: 'w', offset: 0, size: [4], stride: [1] }], {
      'archive/code/__torch__/m.py': code,
      'archive/constants.pkl': Uint8Array.of(0x80, 2, 0x29, 0x2e),
    });
    return {
      name: 'script.pt',
      run: async () => {
        const sd = await decodeTorchStateDict(file, 'script.pt');
        assert.deepEqual([...sd.keys()], ['w']);
      },
    };
  });
});

test('fuzz: NIfTI header fields (NaN, negative, huge) and gzip bombs', { timeout: 300_000 }, async (t) => {
  const values = [NaN, -Infinity, Infinity, -1, 0, 1, 3, 348, 352, 2 ** 31, 1e30, -352];
  await fuzz(t, 'nifti headers', 106, NiftiError, (rand, pick) => {
    const nd = pick(9);
    const sane = rand() < 0.4;
    const dims = Array.from({ length: Math.max(1, Math.min(nd, 7)) }, () => (sane ? 1 + pick(16) : [-1, 0, 1, 2, 16, 32767, -32768][pick(7)]));
    const header = B.niftiHeader({
      dims,
      datatype: sane ? [2, 4, 16, 64][pick(4)] : [2, 4, 16, 64, 128, 0, 32767, 1024][pick(8)],
      voxOffset: sane || rand() < 0.5 ? 352 : values[pick(values.length)],
      sclSlope: sane ? 1 : values[pick(values.length)],
      sclInter: sane ? 0 : values[pick(values.length)],
      pixdim: [values[pick(values.length)], 1, 1, 1],
      magic: rand() < 0.9 ? 'n+1' : 'ni1',
    });
    if (!sane && (nd === 0 || nd > 7)) new DataView(header.buffer).setInt16(40, [0, 8, -1, 32767][pick(4)], true);
    const voxels = new Uint8Array(sane && rand() < 0.7 ? 16 ** 3 * 8 : pick(4096));
    const gz = rand() < 0.5;
    const file = gz ? (rand() < 0.5 ? B.gzipZerosBomb(1 + pick(64), header) : gzipSync(B.cat([header, voxels]))) : B.cat([header, voxels]);
    return {
      name: 'fuzz.nii',
      run: async () => {
        const v = await readNifti(file, { name: 'fuzz.nii' });
        for (const s of niftiAxialSlices(v)) assert.equal(s.data.length, s.width * s.height * s.channels);
      },
    };
  });
});
