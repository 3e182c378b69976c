// DICOM data set access on top of dicom-parser: Part 10 parsing (with deflate support), error
// reporting, and the attributes that can live in functional groups (rescale, window).

import { inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet } from 'dicom-parser';

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

export function parse(bytes: Uint8Array, name: string): DataSet {
  if (bytes.length === 0) throw new DicomError(name, 'empty file, 0 bytes');
  const magic = bytes.length >= 132 && String.fromCharCode(bytes[128], bytes[129], bytes[130], bytes[131]) === 'DICM';
  if (!magic) throw new DicomError(name, "not a DICOM file (no 'DICM' marker at byte 128)");
  const inflater = (arr: Uint8Array, position: number): Uint8Array => {
    const inflated = inflateRawSync(arr.subarray(position));
    const full = new Uint8Array(position + inflated.length);
    full.set(arr.subarray(0, position));
    full.set(inflated, position);
    return full;
  };
  try {
    return dicomParser.parseDicom(bytes, { inflater });
  } catch (err) {
    const detail = err instanceof Error ? err.message : typeof err === 'object' && err && 'exception' in err ? String(err.exception) : String(err);
    throw new DicomError(name, `truncated or corrupt DICOM data (${detail.replace(/^dicomParser[.:]\w*:?\s*/, '')})`);
  }
}

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
