// NIfTI voxel decoding: datatypes, nibabel's scaling rules, and a writer that converts voxel bytes as they arrive
// (from a file in memory or a gzip stream), so that a compressed volume is never held inflated in full.
import { createGunzip } from 'node:zlib';

export interface DatatypeInfo {
  name: string;
  bytes: number;
  read: (dv: DataView, off: number, le: boolean) => number;
  /** nibabel scales in float32 for get_fdata(dtype=float32) (integer types that promote to float32 with float32). */
  f32: boolean;
}

export const DATATYPES: Record<number, DatatypeInfo> = {
  2: { name: 'uint8', bytes: 1, read: (dv, o) => dv.getUint8(o), f32: true },
  4: { name: 'int16', bytes: 2, read: (dv, o, le) => dv.getInt16(o, le), f32: true },
  8: { name: 'int32', bytes: 4, read: (dv, o, le) => dv.getInt32(o, le), f32: false },
  16: { name: 'float32', bytes: 4, read: (dv, o, le) => dv.getFloat32(o, le), f32: true },
  64: { name: 'float64', bytes: 8, read: (dv, o, le) => dv.getFloat64(o, le), f32: false },
  256: { name: 'int8', bytes: 1, read: (dv, o) => dv.getInt8(o), f32: true },
  512: { name: 'uint16', bytes: 2, read: (dv, o, le) => dv.getUint16(o, le), f32: true },
  768: { name: 'uint32', bytes: 4, read: (dv, o, le) => dv.getUint32(o, le), f32: false },
  1024: { name: 'int64', bytes: 8, read: (dv, o, le) => Number(dv.getBigInt64(o, le)), f32: false },
  1280: { name: 'uint64', bytes: 8, read: (dv, o, le) => Number(dv.getBigUint64(o, le)), f32: false },
};
const INT_RANGE: Record<number, [number, number]> = { 2: [0, 255], 256: [-128, 127], 4: [-32768, 32767], 512: [0, 65535] };
export const UNSUPPORTED: Record<number, string> = {
  1: 'binary',
  32: 'complex64',
  128: 'RGB24',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

export interface Scaling {
  slope: number;
  inter: number;
  /** Whether the scaling applies (scl_slope neither 0 nor non-finite, and not the identity). */
  scaled: boolean;
}

/**
 * Converts voxel bytes (file order) to values, scaled as nibabel's get_fdata: in float64, or for float32 output in
 * float32 for the 8/16-bit integer and float32 types (float64 when float32 scaling would overflow the type's range).
 * Bytes may come in pieces of any size; those beyond the volume are ignored.
 */
export class VoxelWriter {
  readonly data: Float32Array | Float64Array;
  /** Voxel bytes received so far (including any beyond the volume). */
  received = 0;
  private written = 0;
  private readonly carry: Uint8Array;
  private carried = 0;
  private readonly inF32: boolean;

  constructor(
    private readonly datatype: number,
    private readonly le: boolean,
    readonly count: number,
    private readonly s: Scaling,
    f32: boolean,
  ) {
    const info = DATATYPES[datatype];
    this.data = f32 ? new Float32Array(count) : new Float64Array(count);
    this.carry = new Uint8Array(info.bytes);
    const f = Math.fround;
    const range = INT_RANGE[datatype];
    const fits = !range || range.every((x) => Number.isFinite(f(f(x * f(s.slope)) + f(s.inter))));
    this.inF32 = f32 && info.f32 && fits;
  }

  get complete(): boolean {
    return this.written === this.count;
  }

  push(chunk: Uint8Array): void {
    this.received += chunk.length;
    const size = this.carry.length;
    let at = 0;
    if (this.carried > 0) {
      const take = Math.min(size - this.carried, chunk.length);
      this.carry.set(chunk.subarray(0, take), this.carried);
      this.carried += take;
      at = take;
      if (this.carried < size) return;
      this.convert(this.carry, 1);
      this.carried = 0;
    }
    const whole = Math.min(Math.floor((chunk.length - at) / size), this.count - this.written);
    if (whole > 0) this.convert(chunk.subarray(at, at + whole * size), whole);
    at += whole * size;
    if (!this.complete && at < chunk.length) {
      this.carry.set(chunk.subarray(at));
      this.carried = chunk.length - at;
    }
  }

  private convert(bytes: Uint8Array, n: number): void {
    const info = DATATYPES[this.datatype];
    const dv = new DataView(bytes.buffer, bytes.byteOffset, n * info.bytes);
    const { data, le } = this;
    const { scaled, slope, inter } = this.s;
    const f = Math.fround;
    const s32 = f(slope);
    const i32 = f(inter);
    for (let k = 0, o = 0, i = this.written; k < n; k++, o += info.bytes, i++) {
      const x = info.read(dv, o, le);
      if (!scaled) data[i] = x;
      else if (this.inF32) data[i] = f(f(x * s32) + i32);
      else data[i] = x * slope + inter;
    }
    this.written += n;
  }
}

/** What to do with the bytes of a gzip stream once its first `probe` bytes are known. */
export interface GzipPlan {
  /** Where the voxel bytes start in the inflated stream. */
  offset: number;
  /** Receives the voxel bytes; none: stop after the probe. */
  writer: VoxelWriter | undefined;
}

/**
 * Inflates gzip data as a stream: once `probe` bytes are out (or the stream ends), `plan(prefix)` (which may throw
 * to refuse the file) says where the voxels start; from there, bytes go to the writer until the volume is complete,
 * and the rest of the stream is never inflated. Returns the prefix. `wrap` names errors.
 */
export async function gunzipVoxels(b: Uint8Array, probe: number, plan: (prefix: Uint8Array) => GzipPlan, wrap: (why: string) => Error): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  let prefix: Uint8Array | undefined;
  let p: GzipPlan | undefined;
  const gz = createGunzip();
  const start = (): void => {
    prefix = new Uint8Array(Buffer.concat(chunks, total)); // owns its ArrayBuffer (never Node's shared pool)
    chunks.length = 0;
    p = plan(prefix);
    if (p.writer && total > p.offset) p.writer.push(prefix.subarray(p.offset));
  };
  await new Promise<void>((resolve, reject) => {
    const stop = (err?: unknown): void => {
      gz.removeAllListeners('data');
      gz.destroy();
      if (err) reject(err);
      else resolve();
    };
    gz.on('data', (c: Buffer) => {
      try {
        if (!p) {
          chunks.push(c);
          total += c.length;
          if (total >= probe) start();
        } else if (p.writer) {
          const skip = Math.max(0, p.offset - total);
          total += c.length;
          if (skip < c.length) p.writer.push(c.subarray(skip));
        }
        if (p && (!p.writer || p.writer.complete)) stop();
      } catch (err) {
        stop(err);
      }
    });
    gz.on('error', (err) => reject(wrap(`cannot decompress gzip data (${err.message})`)));
    gz.on('end', () => resolve());
    gz.end(b);
  });
  if (!p) start();
  return prefix!;
}
