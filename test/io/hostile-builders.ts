// Builders for hostile (and well-formed) inputs, written byte by byte in TypeScript so that the tests that use them
// need Node alone: DICOM Part 10 files (plain, deflated, encapsulated with offset tables), JPEG 2000 / JPEG-LS
// codestream headers, NIfTI-1 headers, gzip bombs, PyTorch zip archives with hand-written pickles.
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';

// ---------------------------------------------------------------- little helpers

export function u16le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff);
}

export function u32le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

export function cat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

// ---------------------------------------------------------------- DICOM

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegLs: '1.2.840.10008.1.2.4.80',
  jpeg2000: '1.2.840.10008.1.2.4.90',
  rle: '1.2.840.10008.1.2.5',
} as const;

export interface DicomElement {
  group: number;
  element: number;
  vr: string;
  /** Value bytes (padded to even length here), a string (padded with a space, or NUL for UI), or US values. */
  value: Uint8Array | string | number[];
}

function valueBytes(e: DicomElement): Uint8Array {
  let v: Uint8Array;
  if (typeof e.value === 'string') v = ascii(e.value);
  else if (Array.isArray(e.value)) v = cat(e.value.map(u16le));
  else v = e.value;
  if (v.length % 2 === 1) v = cat([v, Uint8Array.of(e.vr === 'UI' || e.vr === 'OB' ? 0 : 0x20)]);
  return v;
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'OD', 'SQ', 'UN', 'UT', 'UC', 'UR']);

/** One data element in explicit or implicit VR little endian. */
export function encodeElement(e: DicomElement, explicit: boolean): Uint8Array {
  const v = valueBytes(e);
  const tag = cat([u16le(e.group), u16le(e.element)]);
  if (!explicit) return cat([tag, u32le(v.length), v]);
  if (LONG_VRS.has(e.vr)) return cat([tag, ascii(e.vr), u16le(0), u32le(v.length), v]);
  return cat([tag, ascii(e.vr), u16le(v.length), v]);
}

/** Encapsulated Pixel Data (7FE0,0010) with the given Basic Offset Table and fragments (PS3.5 A.4). */
export function encapsulatedPixelData(offsets: number[], fragments: Uint8Array[], explicit = true): Uint8Array {
  const item = (b: Uint8Array): Uint8Array => cat([u16le(0xfffe), u16le(0xe000), u32le(b.length), b]);
  const head = explicit
    ? cat([u16le(0x7fe0), u16le(0x0010), ascii('OB'), u16le(0), u32le(0xffffffff)])
    : cat([u16le(0x7fe0), u16le(0x0010), u32le(0xffffffff)]);
  return cat([head, item(cat(offsets.map(u32le))), ...fragments.map(item), u16le(0xfffe), u16le(0xe0dd), u32le(0)]);
}

/** Image attributes (Rows, Columns, ...) as elements, in tag order. */
export function imageElements(o: { rows: number; columns: number; bits?: number; samples?: number; frames?: number; photometric?: string }): DicomElement[] {
  const els: DicomElement[] = [
    { group: 0x0008, element: 0x0060, vr: 'CS', value: 'OT' },
    { group: 0x0028, element: 0x0002, vr: 'US', value: [o.samples ?? 1] },
    { group: 0x0028, element: 0x0004, vr: 'CS', value: o.photometric ?? (o.samples === 3 ? 'RGB' : 'MONOCHROME2') },
  ];
  if (o.frames !== undefined) els.push({ group: 0x0028, element: 0x0008, vr: 'IS', value: String(o.frames) });
  if ((o.samples ?? 1) === 3) els.push({ group: 0x0028, element: 0x0006, vr: 'US', value: [0] });
  const bits = o.bits ?? 8;
  els.push(
    { group: 0x0028, element: 0x0010, vr: 'US', value: [o.rows] },
    { group: 0x0028, element: 0x0011, vr: 'US', value: [o.columns] },
    { group: 0x0028, element: 0x0100, vr: 'US', value: [bits] },
    { group: 0x0028, element: 0x0101, vr: 'US', value: [bits] },
    { group: 0x0028, element: 0x0102, vr: 'US', value: [bits - 1] },
    { group: 0x0028, element: 0x0103, vr: 'US', value: [0] },
  );
  return els;
}

/** The 128-byte preamble, 'DICM' and a file meta group (explicit VR little endian) naming `ts`. */
export function dicomPreamble(ts: string): Uint8Array {
  const meta = cat([
    encodeElement({ group: 0x0002, element: 0x0001, vr: 'OB', value: Uint8Array.of(0, 1) }, true),
    encodeElement({ group: 0x0002, element: 0x0002, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' }, true),
    encodeElement({ group: 0x0002, element: 0x0003, vr: 'UI', value: '1.2.3.4.5.6.7' }, true),
    encodeElement({ group: 0x0002, element: 0x0010, vr: 'UI', value: ts }, true),
  ]);
  const groupLength = encodeElement({ group: 0x0002, element: 0x0000, vr: 'UL', value: u32le(meta.length) }, true);
  return cat([new Uint8Array(128), ascii('DICM'), groupLength, meta]);
}

/**
 * A DICOM Part 10 file: the meta group names `ts`; the data set (`elements`, then `tail` bytes such as an encoded
 * pixel data element) is written in explicit VR unless `implicitBody`, and deflated when `ts` is the deflated syntax.
 */
export function dicomFile(ts: string, elements: DicomElement[], tail: Uint8Array = new Uint8Array(0), o: { implicitBody?: boolean } = {}): Uint8Array {
  const explicit = !(o.implicitBody ?? ts === TS.implicitLE);
  const body = cat([...elements.map((e) => encodeElement(e, explicit)), tail]);
  return cat([dicomPreamble(ts), ts === TS.deflated ? deflateRawSync(body) : body]);
}

/**
 * A raw DEFLATE stream that inflates to `mebibytes` MiB of zero bytes while being about 1 KB per MiB: one
 * fully flushed (byte-aligned, self-contained) block of 1 MiB of zeros repeated, then an empty final block.
 */
export function deflateZerosBomb(mebibytes: number, prefix: Uint8Array = new Uint8Array(0)): Uint8Array {
  const head = deflateRawSync(prefix, { finishFlush: constants.Z_FULL_FLUSH });
  const block = deflateRawSync(new Uint8Array(1 << 20), { finishFlush: constants.Z_FULL_FLUSH, level: 9 });
  const parts = [head];
  for (let i = 0; i < mebibytes; i++) parts.push(block);
  parts.push(deflateRawSync(new Uint8Array(0)));
  return cat(parts);
}

/**
 * gzip data that gunzips to `prefix` then zeros, `mebibytes` MiB in all: one member per MiB (gzip allows
 * concatenated members, and each carries its own CRC-32), about 1 KB each.
 */
export function gzipZerosBomb(mebibytes: number, prefix: Uint8Array = new Uint8Array(0)): Uint8Array {
  const first = gzipSync(cat([prefix, new Uint8Array((1 << 20) - prefix.length)]), { level: 9 });
  const zeros = gzipSync(new Uint8Array(1 << 20), { level: 9 });
  const parts = [first];
  for (let i = 1; i < mebibytes; i++) parts.push(zeros);
  return cat(parts);
}

// ---------------------------------------------------------------- JPEG 2000 / JPEG-LS codestream headers

/** A JPEG 2000 codestream start: SOC, SIZ declaring width x height x components (8-bit), then an EOC. */
export function j2kCodestream(width: number, height: number, components = 1): Uint8Array {
  const comps = [];
  for (let i = 0; i < components; i++) comps.push(Uint8Array.of(7, 1, 1));
  const be16 = (v: number): Uint8Array => Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
  const be32 = (v: number): Uint8Array => Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const body = cat([be16(0), be32(width), be32(height), be32(0), be32(0), be32(width), be32(height), be32(0), be32(0), be16(components), ...comps]);
  return cat([Uint8Array.of(0xff, 0x4f, 0xff, 0x51), be16(body.length + 2), body, Uint8Array.of(0xff, 0xd9)]);
}

/** A JPEG-LS stream start: SOI, SOF55 declaring width x height x components (8-bit), then an EOI. */
export function jpegLsStream(width: number, height: number, components = 1): Uint8Array {
  const be16 = (v: number): Uint8Array => Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
  const comps = [];
  for (let i = 0; i < components; i++) comps.push(Uint8Array.of(i + 1, 0x11, 0));
  const body = cat([Uint8Array.of(8), be16(height), be16(width), Uint8Array.of(components), ...comps]);
  return cat([Uint8Array.of(0xff, 0xd8, 0xff, 0xf7), be16(body.length + 2), body, Uint8Array.of(0xff, 0xd9)]);
}

// ---------------------------------------------------------------- NIfTI-1

export interface NiftiHeaderFields {
  dims: number[];
  datatype?: number;
  bitpix?: number;
  voxOffset?: number;
  sclSlope?: number;
  sclInter?: number;
  pixdim?: number[];
  magic?: 'n+1' | 'ni1';
}

/** A 348-byte NIfTI-1 header plus the 4-byte extension flag (352 bytes), little endian. */
export function niftiHeader(f: NiftiHeaderFields): Uint8Array {
  const b = new Uint8Array(352);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 348, true);
  dv.setInt16(40, f.dims.length, true);
  f.dims.forEach((d, i) => dv.setInt16(42 + 2 * i, d, true));
  const datatype = f.datatype ?? 2;
  dv.setInt16(70, datatype, true);
  dv.setInt16(72, f.bitpix ?? ({ 2: 8, 4: 16, 16: 32, 64: 64 } as Record<number, number>)[datatype] ?? 8, true);
  const pix = f.pixdim ?? [1, 1, 1, 1];
  dv.setFloat32(76, 1, true);
  pix.forEach((p, i) => dv.setFloat32(80 + 4 * i, p, true));
  dv.setFloat32(108, f.voxOffset ?? 352, true);
  dv.setFloat32(112, f.sclSlope ?? 1, true);
  dv.setFloat32(116, f.sclInter ?? 0, true);
  b.set(ascii(`${f.magic ?? 'n+1'}\0`), 344);
  return b;
}

// ---------------------------------------------------------------- PyTorch zip archives with hand-written pickles

/** Minimal protocol-2 pickle writer for the opcodes a `torch.save` state dict uses. */
export class PickleWriter {
  private readonly parts: number[] = [0x80, 2];
  private memo = 0;
  op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.parts.push(0x58, ...u32le(b.length), ...b); // BINUNICODE
    return this.put();
  }
  int(v: number): this {
    this.parts.push(0x4a, ...u32le(v)); // BININT
    return this;
  }
  global(module: string, name: string): this {
    this.parts.push(0x63, ...ascii(`${module}\n${name}\n`)); // GLOBAL
    return this.put();
  }
  put(): this {
    this.parts.push(0x72, ...u32le(this.memo++)); // LONG_BINPUT
    return this;
  }
  /** Memo index of the most recent put. */
  get last(): number {
    return this.memo - 1;
  }
  get(i: number): this {
    this.parts.push(0x6a, ...u32le(i)); // LONG_BINGET
    return this;
  }
  tuple(items: (() => void)[]): this {
    this.parts.push(0x28); // MARK
    for (const f of items) f();
    this.parts.push(0x74); // TUPLE
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from([...this.parts, 0x2e]); // STOP
  }
}

export interface ViewSpec {
  key: string;
  offset: number;
  size: number[];
  stride: number[];
}

/**
 * A `torch.save` zip archive whose data.pkl is a dict of `_rebuild_tensor_v2` views over one float32 storage of
 * `storageNumel` elements (its bytes stored as entry `archive/data/0`), plus optional extra entries.
 */
export function torchViewsArchive(storageNumel: number, views: ViewSpec[], extra: Record<string, Uint8Array> = {}): Uint8Array {
  const p = new PickleWriter();
  p.op(0x7d).put(); // EMPTY_DICT
  p.op(0x28); // MARK for SETITEMS
  let storageMemo = -1;
  for (const v of views) {
    p.str(v.key);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.tuple([
      () => {
        if (storageMemo >= 0) {
          p.get(storageMemo);
          return;
        }
        // persistent id ('storage', torch.FloatStorage, '0', 'cpu', numel)
        p.tuple([() => p.str('storage'), () => p.global('torch', 'FloatStorage'), () => p.str('0'), () => p.str('cpu'), () => p.int(storageNumel)]);
        p.op(0x51).put(); // BINPERSID
        storageMemo = p.last;
      },
      () => p.int(v.offset),
      () => p.tuple(v.size.map((s) => () => p.int(s))),
      () => p.tuple(v.stride.map((s) => () => p.int(s))),
      () => p.op(0x89), // NEWFALSE
      () => p.global('collections', 'OrderedDict').op(0x29, 0x52), // OrderedDict()
    ]);
    p.op(0x52); // REDUCE
  }
  p.op(0x75); // SETITEMS
  const files: Record<string, Uint8Array> = {
    'archive/data.pkl': p.bytes(),
    'archive/data/0': new Uint8Array(storageNumel * 4),
    'archive/version': ascii('3\n'),
    ...extra,
  };
  return zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v, { level: 0 }]])));
}
