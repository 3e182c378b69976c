// The `.npy` header: a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.

export type PyLiteral = string | number | boolean | null | PyLiteral[] | { [k: string]: PyLiteral };

/** Parses the restricted Python literal syntax used by numpy headers (strings, ints, bools, None, tuples, lists, dicts). */
export function parsePyLiteral(text: string): PyLiteral {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at character ${i} of the header`);
  };
  const value = (depth: number): PyLiteral => {
    if (depth > 32) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('escapes in strings are not supported');
      i = end + 1;
      return s;
    }
    if (c === '{') {
      i++;
      const out: { [k: string]: PyLiteral } = {};
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return out;
        }
        const k = value(depth + 1);
        if (typeof k !== 'string') fail('dict keys must be strings');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        Object.defineProperty(out, k as string, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail("expected ',' or '}'");
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const out: PyLiteral[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return out;
        }
        out.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 40));
    if (!m) return fail('unexpected token');
    i += m[1].length;
    if (m[1] === 'True') return true;
    if (m[1] === 'False') return false;
    if (m[1] === 'None') return null;
    return Number(m[1].replace(/L$/, ''));
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

function pyRepr(v: string | boolean | number[]): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return v.length === 1 ? `(${v[0]},)` : `(${v.join(', ')})`;
}

const GROWTH_AXIS_MAX_DIGITS = 21;
const ARRAY_ALIGN = 64;

/** Builds the complete header (magic, version, length, dict, padding) exactly as numpy's `np.save` does. */
export function buildNpyHeader(descr: string, shape: number[]): Uint8Array {
  let dict = `{'descr': ${pyRepr(descr)}, 'fortran_order': False, 'shape': ${pyRepr(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const body = Buffer.from(dict, 'latin1');
  const hlen = body.length + 1;
  let lenBytes = 2;
  let pad = ARRAY_ALIGN - ((8 + lenBytes + hlen) % ARRAY_ALIGN);
  if (hlen + pad > 0xffff) {
    lenBytes = 4;
    pad = ARRAY_ALIGN - ((8 + lenBytes + hlen) % ARRAY_ALIGN);
  }
  const out = new Uint8Array(8 + lenBytes + hlen + pad);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, lenBytes === 2 ? 1 : 2, 0]);
  const dv = new DataView(out.buffer);
  if (lenBytes === 2) dv.setUint16(8, hlen + pad, true);
  else dv.setUint32(8, hlen + pad, true);
  out.set(body, 8 + lenBytes);
  out.fill(0x20, 8 + lenBytes + body.length, out.length - 1);
  out[out.length - 1] = 0x0a;
  return out;
}
