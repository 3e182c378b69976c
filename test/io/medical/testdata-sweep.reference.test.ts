// Sweep over pydicom's and nibabel's own test-data folders (live Python, `npm run test:reference`): every file that
// pydicom / nibabel decode to pixel data, mvfa decodes to the same values; every file they refuse, mvfa refuses.
// The Python side is scripts/fixtures/sweep_testdata.py; the interpreter is $MVFA_PYTHON (default python3).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';

import { DicomError, readDicom } from '../../../src/io/medical/dicom.ts';
import { NiftiError, readNifti } from '../../../src/io/medical/nifti.ts';

const PYTHON = process.env.MVFA_PYTHON ?? 'python3';
const SCRIPT = join(import.meta.dirname, '..', '..', '..', 'scripts', 'fixtures', 'sweep_testdata.py');

interface Entry {
  file: string;
  kind: 'dicom' | 'nifti' | 'other';
  status: 'ok' | 'refused' | 'no-pixels' | 'other-format';
  reason: string;
  shape?: number[];
  values?: string;
}

/** Transfer syntaxes whose decoders may legitimately differ by a few grey levels (lossy JPEG). */
const LOSSY = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.91']);
const LOSSY_TOLERANCE = 3;

/**
 * Files where mvfa and pydicom / nibabel knowingly differ, with the reason. The test fails if one of these stops
 * differing (so that the list stays true) or if any other file differs.
 */
const KNOWN: Record<string, string> = {
  'pydicom:JPEG-lossy.dcm': '12-bit lossy JPEG (process 4): mvfa decodes 8-bit lossy JPEG only (sharp); pydicom uses GDCM',
  'pydicom:JPGExtended.dcm': '12-bit lossy JPEG (process 4), as JPEG-lossy.dcm',
  'pydicom:JPEG2000-embedded-sequence-delimiter.dcm':
    'its codestream SIZ marker holds the bytes of a sequence delimiter and so declares 3722445056 x 1024 pixels: refused before decoding by the #12 codestream size check',
  'pydicom:badVR.dcm': "pydicom fails on the file's invalid IS value '1A' (a TypeError inside its own pixel length check); mvfa reads the 10 x 10 pixels",
};

type Outcome = { kind: 'equal' | 'close' | 'both-refuse' | 'other-format' | 'mismatch'; detail: string };

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const e = x === y ? 0 : Math.abs(x - y);
    if (!(e <= d)) d = e;
  }
  return d;
}

async function compare(e: Entry, dir: string): Promise<Outcome> {
  if (e.status === 'other-format') return { kind: 'other-format', detail: e.reason };
  const read = async (): Promise<{ values: Float64Array | Float32Array; lossy: boolean }> => {
    if (e.kind === 'dicom') {
      const img = await readDicom(e.file, { frame: 'all' });
      const n = img.rows * img.columns * img.samplesPerPixel;
      const out = new Float64Array(n * img.frames.length);
      img.frames.forEach((f, k) => out.set(f.pixels, k * n));
      return { values: out, lossy: LOSSY.has(img.transferSyntax.uid) };
    }
    return { values: (await readNifti(e.file, { dtype: 'float64' })).data, lossy: false };
  };
  let ours: { values: Float64Array | Float32Array; lossy: boolean };
  try {
    ours = await read();
  } catch (err) {
    if (!(err instanceof DicomError || err instanceof NiftiError))
      return { kind: 'mismatch', detail: `threw ${(err as Error).name}: ${(err as Error).message}` };
    if (e.status !== 'ok') return { kind: 'both-refuse', detail: `${e.reason.slice(0, 60)} / ${err.reason.slice(0, 80)}` };
    return { kind: 'mismatch', detail: `refused by mvfa (${err.reason}), decoded by the Python library` };
  }
  if (e.status !== 'ok') return { kind: 'mismatch', detail: `decoded by mvfa, refused by the Python library (${e.status}: ${e.reason.slice(0, 100)})` };
  const ref = new Float64Array(new Uint8Array(readFileSync(join(dir, e.values!))).buffer);
  if (ref.length !== ours.values.length)
    return { kind: 'mismatch', detail: `${ours.values.length} values, the reference has ${ref.length} (shape ${e.shape})` };
  const d = maxDiff(ours.values, ref);
  if (d === 0) return { kind: 'equal', detail: '' };
  if (ours.lossy && d <= LOSSY_TOLERANCE) return { kind: 'close', detail: `lossy JPEG, max |diff| ${d}` };
  return { kind: 'mismatch', detail: `max |diff| ${d}` };
}

test('pydicom and nibabel test data: mvfa decodes the same values, or both refuse', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mvfa-sweep-'));
  try {
    const r = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.error) assert.fail(`cannot run ${PYTHON} (set MVFA_PYTHON): ${r.error.message}`);
    assert.equal(r.status, 0, `sweep_testdata.py failed:\n${r.stderr}`);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { versions: Record<string, string>; files: Entry[] };
    t.diagnostic(`versions: ${JSON.stringify(index.versions)}`);
    const counts: Record<Outcome['kind'], number> = { equal: 0, close: 0, 'both-refuse': 0, 'other-format': 0, mismatch: 0 };
    const mismatches: Record<string, string> = {};
    for (const e of index.files) {
      const o = await compare(e, dir);
      counts[o.kind]++;
      const key = `${e.file.includes('/nibabel/') ? 'nibabel' : 'pydicom'}:${basename(e.file)}`;
      if (o.kind === 'mismatch') mismatches[key] = o.detail;
      if (o.kind === 'close' || o.kind === 'mismatch') t.diagnostic(`${key}: ${o.kind} (${o.detail})`);
    }
    t.diagnostic(`${index.files.length} files tried: ${JSON.stringify(counts)}`);
    for (const [k, why] of Object.entries(mismatches)) assert.ok(k in KNOWN, `${k}: ${why}`);
    for (const k of Object.keys(KNOWN)) assert.ok(k in mismatches, `${k} no longer differs: remove it from KNOWN`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
