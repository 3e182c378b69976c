// Seeded mutation fuzzing of the DICOM, NIfTI and image decoders: every mutated file must decode to a well-formed
// raster or be rejected with the reader's own error class and a message; never a crash, a hang or a huge allocation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { DicomError } from '../../../src/io/medical/dicom-dataset.ts';
import { dicomToRasters, readDicom } from '../../../src/io/medical/dicom.ts';
import { ImageDecodeError, decodeImage } from '../../../src/io/image/image.ts';
import { NiftiError, niftiAxialSlices, readNifti } from '../../../src/io/medical/nifti.ts';
import { rng } from '../helpers.ts';

const ITERATIONS = 300;
const MAX_EXTRA_BYTES = 256 * 1024 * 1024;
const MAX_CASE_MS = 5000;

function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(rand() * n);
  const pos = (): number => (rand() < 0.5 ? pick(Math.min(1024, src.length)) : pick(src.length));
  const out = Uint8Array.from(src);
  switch (pick(4)) {
    case 0:
      for (let i = 1 + pick(8); i > 0; i--) out[pos()] = pick(256);
      return out;
    case 1:
      return out.subarray(0, pick(src.length));
    case 2: {
      const at = pos();
      return Uint8Array.from([...out.subarray(0, at), ...Uint8Array.from({ length: pick(64) }, () => pick(256)), ...out.subarray(at + pick(64))]);
    }
    default: {
      const at = Math.max(0, Math.min(pos(), out.length - 4));
      new DataView(out.buffer).setUint32(at, [0xffffffff, 0x7fffffff, 0x80000000, 0, 0xffff][pick(5)], rand() < 0.5);
      return out;
    }
  }
}

async function fuzz(
  name: string,
  seed: number,
  src: Uint8Array,
  errClass: new (...a: never[]) => Error,
  parse: (b: Uint8Array) => Promise<void>,
  wrap: (b: Uint8Array) => Uint8Array = (b) => b,
  needParsed = true,
): Promise<{ parsed: number; rejected: number }> {
  const rand = rng(seed);
  const out = { parsed: 0, rejected: 0 };
  const base = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = wrap(mutate(src, rand));
    const t0 = Date.now();
    try {
      await parse(input);
      out.parsed++;
    } catch (e) {
      if (!(e instanceof errClass) || !(e as Error).message)
        assert.fail(`${name} #${i}: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
      out.rejected++;
    }
    assert.ok(Date.now() - t0 < MAX_CASE_MS, `${name} #${i}: took ${Date.now() - t0} ms`);
    const extra = process.memoryUsage().arrayBuffers - base;
    assert.ok(extra < MAX_EXTRA_BYTES, `${name} #${i}: ${extra} bytes of array buffers allocated`);
  }
  assert.ok(out.rejected > 0 && (out.parsed > 0 || !needParsed), `${name}: ${JSON.stringify(out)}`);
  return out;
}

const med = (f: string) => readFileSync(new URL(`../../../fixtures/medical/${f}`, import.meta.url));

for (const [file, seed] of [
  ['CT_small.dcm', 11],
  ['MR_small_RLE.dcm', 12],
  ['syn_mono1_u8.dcm', 13],
] as const) {
  test(`fuzz: DICOM ${file}`, { timeout: 120_000 }, async (t) => {
    const r = await fuzz(file, seed, med(file), DicomError, async (b) => {
      for (const { raster } of dicomToRasters(await readDicom(b, { name: file, frame: 'all' }))) {
        assert.equal(raster.data.length, raster.width * raster.height * raster.channels);
      }
    });
    t.diagnostic(`${ITERATIONS} cases: ${r.parsed} decoded, ${r.rejected} rejected with DicomError`);
  });
}

for (const [file, seed] of [
  ['syn_float32.nii', 21],
  ['syn_int16_slope.nii.gz', 22],
] as const) {
  test(`fuzz: NIfTI ${file}`, { timeout: 120_000 }, async (t) => {
    // Compressed volumes: the decompressed bytes are mutated and compressed again, so the NIfTI parser is reached.
    const gz = file.endsWith('.gz');
    const src = gz ? new Uint8Array(gunzipSync(med(file))) : med(file);
    const r = await fuzz(
      file,
      seed,
      src,
      NiftiError,
      async (b) => {
        for (const s of niftiAxialSlices(await readNifti(b, {}))) assert.equal(s.data.length, s.width * s.height * s.channels);
      },
      gz ? (b) => new Uint8Array(gzipSync(b)) : undefined,
    );
    t.diagnostic(`${ITERATIONS} cases: ${r.parsed} decoded, ${r.rejected} rejected with NiftiError`);
  });
}

test('fuzz: PNG image decoding', { timeout: 120_000 }, async (t) => {
  const png = readFileSync(new URL('../../../demo/BUSI_demo_AD/valid/good/img/busi_0147.png', import.meta.url));
  // PNG chunks carry CRCs, so nearly every mutation is (rightly) rejected; the point is that none crashes.
  const r = await fuzz(
    'busi_0147.png',
    31,
    png,
    ImageDecodeError,
    async (b) => {
      const img = await decodeImage(b);
      assert.equal(img.data.length, img.width * img.height * img.channels);
    },
    undefined,
    false,
  );
  t.diagnostic(`${ITERATIONS} cases: ${r.parsed} decoded, ${r.rejected} rejected with ImageDecodeError`);
});
