// Byte-level input of the restricted unpickler (pickle.ts): bounded reads of fixed-size fields, lengths and lines,
// with errors that name the file and the byte offset.
import { WeightFileError } from './tensor.ts';

/** Thrown when the data ends before the pickle's STOP opcode. */
export class PickleTruncatedError extends WeightFileError {}

const MAX_LINE = 1 << 16;
export const latin1 = new TextDecoder('latin1');
export const utf8 = new TextDecoder('utf-8');

/** A Python int as a number when it is a safe integer, else a bigint. */
function normInt(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** The string of a protocol-0 STRING literal (a quoted repr with backslash escapes). */
function decodePyStringLiteral(s: string): string {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) throw new Error('malformed STRING literal');
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? `\\${e}`;
  });
}

/** Reads a pickle's bytes from `start`; every read checks the bytes are there and says what it was reading. */
export class PickleInput {
  protected pos: number;
  protected readonly view: DataView;

  constructor(
    protected readonly data: Uint8Array,
    start: number,
    protected readonly file: string,
    protected readonly key?: string,
  ) {
    this.pos = start;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  protected fail(what: string, at = this.pos): never {
    throw new WeightFileError(this.file, `malformed pickle at byte ${at}: ${what}`, this.key);
  }

  protected need(n: number, what: string): number {
    if (n > this.data.length - this.pos) {
      throw new PickleTruncatedError(
        this.file,
        `truncated pickle: ${what} at byte ${this.pos} needs ${n} bytes, only ${this.data.length - this.pos} left`,
        this.key,
      );
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }

  protected u8(what: string): number {
    return this.data[this.need(1, what)];
  }
  protected u16(what: string): number {
    return this.view.getUint16(this.need(2, what), true);
  }
  protected u32(what: string): number {
    return this.view.getUint32(this.need(4, what), true);
  }
  protected i32(what: string): number {
    return this.view.getInt32(this.need(4, what), true);
  }
  protected u64(what: string): number {
    const v = this.view.getBigUint64(this.need(8, what), true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  protected bytes(n: number, what: string): Uint8Array {
    if (n < 0) this.fail(`negative length ${n} for ${what}`);
    const p = this.need(n, what);
    return this.data.slice(p, p + n);
  }
  protected line(what: string, decoder: { decode(b: Uint8Array): string } = utf8): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > MAX_LINE) {
      if (end < 0) this.need(this.data.length - this.pos + 1, what);
      this.fail(`${what} line longer than ${MAX_LINE} bytes`);
    }
    const s = decoder.decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  protected lineInt(what: string): number {
    const s = this.line(what).trim();
    if (!/^-?\d+$/.test(s)) this.fail(`bad ${what} '${s.slice(0, 40)}'`);
    return Number(s);
  }

  /** LONG1/LONG4 payload: a little-endian two's complement integer of `n` bytes (at most `maxBytes`). */
  protected long(n: number, maxBytes: number): number | bigint {
    if (n < 0) this.fail(`negative LONG length ${n}`);
    if (n > maxBytes) this.fail(`integer of ${n} bytes is too large`);
    const b = this.bytes(n, 'LONG');
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return normInt(v);
  }

  /** INT (protocol 0 text): an integer, or the booleans 00 / 01. */
  protected textInt(at: number): number | bigint | boolean {
    const s = this.line('INT').trim();
    if (s === '00' || s === '01') return s === '01';
    if (!/^[-+]?\d+$/.test(s)) this.fail(`bad INT '${s.slice(0, 40)}'`, at);
    return normInt(BigInt(s));
  }

  /** LONG (protocol 0 text): an integer with an optional L suffix. */
  protected textLong(at: number): number | bigint {
    const s = this.line('LONG').trim().replace(/L$/, '');
    if (!/^[-+]?\d{1,400}$/.test(s)) this.fail(`bad LONG '${s.slice(0, 40)}'`, at);
    return normInt(BigInt(s));
  }

  /** FLOAT (protocol 0 text), including inf, -inf and nan. */
  protected textFloat(at: number): number {
    const s = this.line('FLOAT').trim();
    const special: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };
    const v = s in special ? special[s] : Number(s);
    if (Number.isNaN(v) && s !== 'nan') this.fail(`bad FLOAT '${s.slice(0, 40)}'`, at);
    return v;
  }

  /** STRING (protocol 0 text): a quoted repr. */
  protected textString(at: number): string {
    try {
      return decodePyStringLiteral(this.line('STRING').trimEnd());
    } catch {
      return this.fail('malformed STRING literal', at);
    }
  }

  /** UNICODE (protocol 0 text, raw-unicode-escape). */
  protected textUnicode(): string {
    return this.line('UNICODE', latin1).replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a?: string, b?: string) =>
      String.fromCodePoint(parseInt((a ?? b) as string, 16) % 0x110000),
    );
  }
}
