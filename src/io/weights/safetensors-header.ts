// safetensors header: parsing + validation on read, canonical serialisation on write.
import { WeightFileError, dtypeByteSize, type DType, type HostTensor } from './tensor.ts';

/** Largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const TO_ST: Record<DType, string> = {
  bool: 'BOOL',
  uint8: 'U8',
  int8: 'I8',
  int16: 'I16',
  float16: 'F16',
  bfloat16: 'BF16',
  int32: 'I32',
  float32: 'F32',
  float64: 'F64',
  int64: 'I64',
};
const FROM_ST = new Map<string, DType>(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));
/** Dtypes of the format that exist but have no HostTensor representation here. */
const UNSUPPORTED_ST = new Set(['U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);
/** Rank of each dtype in the reference library's `Dtype` enum; files list tensors by descending rank, then name. */
const ST_RANK: Record<DType, number> = {
  bool: 0,
  uint8: 1,
  int8: 2,
  int16: 5,
  float16: 7,
  bfloat16: 8,
  int32: 9,
  float32: 11,
  float64: 12,
  int64: 13,
};

export function safetensorsDtypeName(dtype: DType): string {
  return TO_ST[dtype];
}

export interface SafetensorsTensorInfo {
  dtype: DType;
  shape: number[];
  /** Byte range [begin, end) relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Size of the 8-byte length prefix plus the JSON header: where the data section starts. */
  dataStart: number;
  metadata: Record<string, string> | undefined;
  /** Tensors in data-offset order. */
  tensors: Map<string, SafetensorsTensorInfo>;
}

function isSafeCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseTensorInfo(file: string, key: string, v: unknown, dataBytes: number): SafetensorsTensorInfo {
  const fail = (what: string): never => {
    throw new WeightFileError(file, what, key);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('tensor entry is not a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.dtype !== 'string') fail("missing or non-string 'dtype'");
  const stDtype = o.dtype as string;
  const dtype = FROM_ST.get(stDtype);
  if (dtype === undefined) {
    if (UNSUPPORTED_ST.has(stDtype)) fail(`unsupported dtype '${stDtype}' (supported: ${[...FROM_ST.keys()].join(', ')})`);
    fail(`unknown dtype '${stDtype}'`);
  }
  if (!Array.isArray(o.shape) || !o.shape.every(isSafeCount)) fail("'shape' must be an array of non-negative integers");
  const shape = (o.shape as number[]).slice();
  const offs = o.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isSafeCount)) {
    fail("'data_offsets' must be [begin, end] with non-negative integers");
  }
  const [begin, end] = offs as [number, number];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before begin`);
  if (end > dataBytes) fail(`data_offsets [${begin}, ${end}] out of range: the data section has ${dataBytes} bytes`);
  let numel = 1;
  for (const d of shape) numel *= d;
  const nbytes = numel * dtypeByteSize(dtype!);
  if (nbytes !== end - begin) {
    fail(`shape [${shape.join(', ')}] of ${stDtype} needs ${nbytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { dtype: dtype!, shape, dataOffsets: [begin, end] };
}

/** Reads the little-endian u64 header length from the first 8 bytes; validates it against the file size. */
export function parseHeaderLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new WeightFileError(file, `not a safetensors file: ${fileSize} bytes is too small for the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new WeightFileError(file, `safetensors header length ${n} is too large (limit ${MAX_HEADER_BYTES})`);
  if (Number(n) + 8 > fileSize) {
    throw new WeightFileError(file, `safetensors header length ${n} exceeds the file size (${fileSize} bytes; truncated?)`);
  }
  if (n < 2n) throw new WeightFileError(file, `safetensors header length ${n} is too small`);
  return Number(n);
}

/** Parses and validates the JSON header (`headerBytes` excludes the 8-byte length prefix). */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + headerBytes.byteLength;
  const dataBytes = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new WeightFileError(file, 'safetensors header is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw new WeightFileError(file, "safetensors header does not start with '{'");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new WeightFileError(file, `safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new WeightFileError(file, 'safetensors header is not a JSON object');
  }
  let metadata: Record<string, string> | undefined;
  const entries: [string, SafetensorsTensorInfo][] = [];
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new WeightFileError(file, 'must be an object of strings', key);
      }
      metadata = {};
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
        if (typeof mv !== 'string') throw new WeightFileError(file, `value of '${mk}' is not a string`, key);
        metadata[mk] = mv;
      }
      continue;
    }
    entries.push([key, parseTensorInfo(file, key, v, dataBytes)]);
  }
  entries.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let pos = 0;
  let prev: string | undefined;
  for (const [key, info] of entries) {
    const [begin, end] = info.dataOffsets;
    if (begin < pos) {
      throw new WeightFileError(file, `data_offsets [${begin}, ${end}] overlap tensor '${prev}' (which ends at ${pos})`, key);
    }
    if (begin > pos) throw new WeightFileError(file, `data_offsets [${begin}, ${end}] leave a gap of ${begin - pos} unused bytes before it`, key);
    pos = end;
    prev = key;
  }
  if (pos !== dataBytes) {
    throw new WeightFileError(file, `tensors cover ${pos} bytes but the data section has ${dataBytes} bytes (truncated or trailing data)`);
  }
  return { dataStart, metadata, tensors: new Map(entries) };
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Builds the header bytes (length prefix + JSON padded with spaces to a multiple of 8) and the tensor order,
 * exactly as the reference `safetensors` library does: descending dtype rank, then name.
 */
export function buildHeader(
  tensors: [string, HostTensor][],
  metadata: Record<string, string> | undefined,
): { header: Uint8Array; order: [string, HostTensor][] } {
  const order = tensors.slice().sort((a, b) => ST_RANK[b[1].dtype] - ST_RANK[a[1].dtype] || utf8Compare(a[0], b[0]));
  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(utf8Compare);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of order) {
    const n = t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${TO_ST[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const header = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, order };
}
