// DICOM data set access on top of dicom-parser: Part 10 parsing (with deflate support), error
// reporting, and the attributes that can live in functional groups (rescale, window).

import { createInflateRaw } from 'node:zlib';
import dicomParser, { type ByteArrayParser, type DataSet, type Element } from 'dicom-parser';

import type { DicomWindow } from './dicom-window.ts';

export class DicomError extends Error {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'DicomError';
    this.file = file;
    this.reason = reason;
  }
}

/** Ceiling on the inflated size of a deflated data set (a few KB of deflate data can inflate to gigabytes). */
export const MAX_INFLATED_BYTES = 256 * 1024 * 1024;

const DEFLATED = '1.2.840.10008.1.2.1.99';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const VRS = new Set('AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));

export interface ParsedDicom {
  ds: DataSet;
  /** What was tolerated while reading (e.g. a data set encoded in another VR mode than its transfer syntax says). */
  warnings: string[];
}

export interface ParseOptions {
  /** Most bytes a deflated data set may inflate to (default MAX_INFLATED_BYTES). */
  maxInflatedBytes?: number;
}

function failure(err: unknown): string {
  const detail = err instanceof Error ? err.message : typeof err === 'object' && err && 'exception' in err ? String(err.exception) : String(err);
  return detail.replace(/^dicomParser[.:]\w*:?\s*/, '');
}

/** Bytes a deflated data set may hold after the end of its Pixel Data (trailing elements, padding). */
const TRAILING_BYTES = 1 << 20;
/** Inflated prefix sizes at which the data set is read up to its Pixel Data element to learn its declared size. */
const PROBES = [1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24];

/**
 * The inflated size a data set declares: where its (defined-length) Pixel Data element ends, plus room for
 * trailing elements; undefined while the prefix does not reach that element.
 */
function declaredSize(head: Uint8Array, prefix: Uint8Array): number | undefined {
  const bytes = new Uint8Array(head.length + prefix.length);
  bytes.set(head);
  bytes.set(prefix, head.length);
  const parser = dicomParser.littleEndianByteArrayParser;
  const ds = new DataSetClass(parser, bytes, {});
  try {
    dicomParser.parseDicomDataSetExplicit(ds, new dicomParser.ByteStream(parser, bytes, head.length), bytes.length, { untilTag: 'x7fe00010' });
  } catch {
    return undefined;
  }
  const px = ds.elements.x7fe00010;
  if (!px || px.hadUndefinedLength) return undefined;
  return px.dataOffset - head.length + px.length + TRAILING_BYTES;
}

/**
 * Inflates the raw DEFLATE stream after `head` (the file up to its meta information), holding at most `max` bytes
 * and no more than the data set itself declares (its Pixel Data element's end, read from the first inflated bytes).
 */
async function inflateBounded(head: Uint8Array, src: Uint8Array, max: number, name: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let limit = max;
  let why = `the ${max}-byte ceiling`;
  let probe = 0;
  const inflater = createInflateRaw();
  await new Promise<void>((resolve, reject) => {
    inflater.on('data', (c: Buffer) => {
      total += c.length;
      chunks.push(c);
      while (probe < PROBES.length && total >= PROBES[probe] && limit === max) {
        probe++;
        const declared = declaredSize(head, Buffer.concat(chunks, total));
        if (declared !== undefined && declared < limit) {
          limit = declared;
          why = `the ${declared - TRAILING_BYTES} bytes its elements declare (+${TRAILING_BYTES})`;
        }
      }
      if (total > limit) {
        inflater.destroy();
        reject(new DicomError(name, `deflated data set inflates to more than ${why} (from ${src.length} bytes); refused`));
      }
    });
    inflater.on('error', (e) => reject(new DicomError(name, `cannot inflate the deflated data set (${e.message})`)));
    inflater.on('end', () => resolve());
    inflater.end(src);
  });
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/** Whether the element at `pos` carries a two-letter VR (explicit VR encoding). */
function hasExplicitVr(b: Uint8Array, pos: number): boolean {
  return VRS.has(String.fromCharCode(b[pos + 4], b[pos + 5]));
}

/**
 * Parses a DICOM Part 10 file. A deflated data set is inflated (off the main thread, bounded). A data set whose
 * first element shows the other VR mode than its transfer syntax says is read in the mode it is written in, as
 * pydicom does, with a warning.
 */
export async function parse(bytes: Uint8Array, name: string, opts: ParseOptions = {}): Promise<ParsedDicom> {
  if (bytes.length === 0) throw new DicomError(name, 'empty file, 0 bytes');
  const magic = bytes.length >= 132 && String.fromCharCode(bytes[128], bytes[129], bytes[130], bytes[131]) === 'DICM';
  if (!magic) throw new DicomError(name, "not a DICOM file (no 'DICM' marker at byte 128)");
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new DicomError(name, `truncated or corrupt DICOM data (${failure(err)})`);
    }
  };
  const meta: DataSet & { position?: number } = guard(() => dicomParser.readPart10Header(bytes));
  const ts = guard(() => {
    if (!meta.elements.x00020010) throw new Error('missing required meta header attribute 0002,0010');
    return (meta.string('x00020010') ?? '').trim();
  });
  const position = meta.position ?? 0;
  let byteArray = bytes;
  if (ts === DEFLATED) {
    const inflated = await inflateBounded(bytes.subarray(0, position), bytes.subarray(position), opts.maxInflatedBytes ?? MAX_INFLATED_BYTES, name);
    byteArray = new Uint8Array(position + inflated.length);
    byteArray.set(bytes.subarray(0, position));
    byteArray.set(inflated, position);
  }
  const warnings: string[] = [];
  let explicit = ts !== IMPLICIT_LE;
  if (ts !== EXPLICIT_BE && position + 6 <= byteArray.length && hasExplicitVr(byteArray, position) !== explicit) {
    warnings.push(
      `the data set is encoded in ${explicit ? 'implicit' : 'explicit'} VR although its transfer syntax (${ts}) says ${explicit ? 'explicit' : 'implicit'} VR; read as ${explicit ? 'implicit' : 'explicit'} VR`,
    );
    explicit = !explicit;
  }
  const parser = ts === EXPLICIT_BE ? dicomParser.bigEndianByteArrayParser : dicomParser.littleEndianByteArrayParser;
  const ds = new DataSetClass(parser, byteArray, {});
  guard(() => {
    const stream = new dicomParser.ByteStream(parser, byteArray, position);
    if (explicit) dicomParser.parseDicomDataSetExplicit(ds, stream, byteArray.length);
    else {
      // Undefined-length pixel data in an implicit VR data set can only be encapsulated: keep dicom-parser from
      // reading its fragments as sequence items, then split it as the explicit VR reader does.
      const vrCallback = ((tag: string) => (tag === 'x7fe00010' ? 'OB' : undefined)) as (tag: string) => string;
      dicomParser.parseDicomDataSetImplicit(ds, stream, byteArray.length, { untilTag: '', vrCallback });
      const px = ds.elements.x7fe00010;
      if (px?.hadUndefinedLength) dicomParser.findEndOfEncapsulatedElement(new dicomParser.ByteStream(parser, byteArray, px.dataOffset), px, warnings);
    }
  });
  for (const [tag, el] of Object.entries(meta.elements)) ds.elements[tag] = el;
  return { ds, warnings };
}

/** dicom-parser's DataSet class (exported at run time; its type declarations only describe the interface). */
const DataSetClass = (dicomParser as unknown as { DataSet: new (parser: ByteArrayParser, bytes: Uint8Array, elements: Record<string, Element>) => DataSet })
  .DataSet;

export function sequenceItem(ds: DataSet | undefined, tag: string, index = 0): DataSet | undefined {
  return ds?.elements[tag]?.items?.[index]?.dataSet;
}

export interface FrameAttrs {
  slope: number | undefined;
  intercept: number | undefined;
  window: DicomWindow | undefined;
}

/** Rescale and window from the first of: a functional-group item, or the data set itself. */
export function attrsFrom(sources: (DataSet | undefined)[]): FrameAttrs {
  let slope: number | undefined;
  let intercept: number | undefined;
  let window: DicomWindow | undefined;
  for (const src of sources) {
    if (!src) continue;
    const pvt = sequenceItem(src, 'x00289145') ?? src;
    if (slope === undefined && pvt.elements.x00281053 && pvt.elements.x00281052) {
      slope = pvt.floatString('x00281053');
      intercept = pvt.floatString('x00281052');
    }
    const voi = sequenceItem(src, 'x00289132') ?? src;
    const c = voi.floatString('x00281050', 0);
    const w = voi.floatString('x00281051', 0);
    if (!window && c !== undefined && w !== undefined && Number.isFinite(c) && Number.isFinite(w)) window = { center: c, width: w };
  }
  return { slope, intercept, window };
}

export function requireUint16(ds: DataSet, tag: string, what: string, name: string): number {
  const v = ds.uint16(tag);
  if (v === undefined) throw new DicomError(name, `missing ${what} (${tag.slice(1, 5).toUpperCase()},${tag.slice(5).toUpperCase()})`);
  return v;
}
