/**
 * HTML character-reference decoding as done by CLIP's text cleaning.
 *
 * - `pyHtmlUnescape` follows Python's `html.unescape` (HTML5 rules): numeric references with or
 *   without `;` (Windows-1252 remapping of 0x80–0x9F, U+FFFD for 0, surrogates and values past
 *   U+10FFFF, removal of non-characters and most control code points), and named references with
 *   the longest-prefix rule for the legacy names that may omit `;` (`&ampx` → `&x`).
 * - `ftfyUnescapeHtml` follows ftfy's `unescape_html` fixer: only `&name;` / `&#...;` forms of at most
 *   24 ASCII letters or digits, plus upper-cased spellings of lower-case entity names (`&EACUTE;` → `É`)
 *   when that spelling is not an entity itself.
 *
 * The entity table (`assets/html5_entities.json`) is the WHATWG HTML5 named character reference
 * list as shipped in Python's `html.entities.html5` (keys without the leading `&`).
 */
import { readFileSync } from 'node:fs';

let html5Table: Map<string, string> | undefined;
let ftfyTable: Map<string, string> | undefined;

function html5Entities(): Map<string, string> {
  if (html5Table === undefined) {
    const url = new URL('./assets/html5_entities.json', import.meta.url);
    const raw: unknown = JSON.parse(readFileSync(url, 'utf8'));
    if (raw === null || typeof raw !== 'object') throw new Error('html5_entities.json: not an object');
    const table = new Map<string, string>();
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value !== 'string') throw new Error(`html5_entities.json: bad value for ${name}`);
      table.set(name, value);
    }
    html5Table = table;
  }
  return html5Table;
}

/** Numeric references that HTML5 remaps (Python `html._invalid_charrefs`). */
const INVALID_CHARREFS: ReadonlyMap<number, string> = new Map<number, string>([
  [0x00, '\ufffd'],
  [0x0d, '\r'],
  [0x80, '\u20ac'],
  [0x81, '\x81'],
  [0x82, '\u201a'],
  [0x83, '\u0192'],
  [0x84, '\u201e'],
  [0x85, '\u2026'],
  [0x86, '\u2020'],
  [0x87, '\u2021'],
  [0x88, '\u02c6'],
  [0x89, '\u2030'],
  [0x8a, '\u0160'],
  [0x8b, '\u2039'],
  [0x8c, '\u0152'],
  [0x8d, '\x8d'],
  [0x8e, '\u017d'],
  [0x8f, '\x8f'],
  [0x90, '\x90'],
  [0x91, '\u2018'],
  [0x92, '\u2019'],
  [0x93, '\u201c'],
  [0x94, '\u201d'],
  [0x95, '\u2022'],
  [0x96, '\u2013'],
  [0x97, '\u2014'],
  [0x98, '\u02dc'],
  [0x99, '\u2122'],
  [0x9a, '\u0161'],
  [0x9b, '\u203a'],
  [0x9c, '\u0153'],
  [0x9d, '\x9d'],
  [0x9e, '\u017e'],
  [0x9f, '\u0178'],
]);

/** Code points a numeric reference may not produce (Python `html._invalid_codepoints`): removed. */
function isInvalidCodepoint(n: number): boolean {
  if ((n >= 0x1 && n <= 0x8) || n === 0xb || (n >= 0xe && n <= 0x1f) || (n >= 0x7f && n <= 0x9f)) return true;
  if (n >= 0xfdd0 && n <= 0xfdef) return true;
  // U+xFFFE and U+xFFFF of every plane.
  return (n & 0xfffe) === 0xfffe && n <= 0x10ffff;
}

function numericReference(body: string): string {
  // body is "#123", "#123;", "#x1F" or "#x1F;"
  const hex = body[1] === 'x' || body[1] === 'X';
  const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
  // Long digit strings are beyond U+10FFFF whatever their exact value.
  const stripped = digits.replace(/^0+/, '');
  const num = stripped.length > 8 ? Number.POSITIVE_INFINITY : stripped === '' ? 0 : parseInt(stripped, hex ? 16 : 10);
  const remapped = INVALID_CHARREFS.get(num);
  if (remapped !== undefined) return remapped;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(num)) return '';
  return String.fromCodePoint(num);
}

function namedReference(body: string, table: Map<string, string>): string {
  const exact = table.get(body);
  if (exact !== undefined) return exact;
  // Longest prefix (at least 2 characters, never the whole body) that is an entity name.
  for (let x = body.length - 1; x > 1; x--) {
    const value = table.get(body.slice(0, x));
    if (value !== undefined) return value + body.slice(x);
  }
  return '&' + body;
}

const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Python's `html.unescape`. */
export function pyHtmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  const table = html5Entities();
  return text.replace(CHARREF_RE, (_m: string, body: string) => (body[0] === '#' ? numericReference(body) : namedReference(body, table)));
}

function ftfyEntities(): Map<string, string> {
  if (ftfyTable === undefined) {
    const table = new Map<string, string>();
    for (const [name, char] of html5Entities()) {
      if (!name.endsWith(';')) continue;
      table.set('&' + name, char);
      if (name === name.toLowerCase()) {
        const upper = '&' + name.toUpperCase();
        if (pyHtmlUnescape(upper) === upper) table.set(upper, char.toUpperCase());
      }
    }
    ftfyTable = table;
  }
  return ftfyTable;
}

const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's `unescape_html` fixer. */
export function ftfyUnescapeHtml(text: string): string {
  const table = ftfyEntities();
  return text.replace(FTFY_ENTITY_RE, (m: string) => {
    const value = table.get(m);
    if (value !== undefined) return value;
    if (m.startsWith('&#')) {
      const unescaped = pyHtmlUnescape(m);
      return unescaped.includes(';') ? m : unescaped;
    }
    return m;
  });
}
