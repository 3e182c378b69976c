/**
 * Text cleaning of CLIP's `simple_tokenizer.py`:
 *
 *   basic_clean(t)      = html.unescape(html.unescape(ftfy.fix_text(t))).strip()
 *   whitespace_clean(t) = re.sub(r'\s+', ' ', t).strip()
 *
 * `ftfyFixText` reproduces ftfy 6's `fix_text` with its default configuration, except for the
 * mojibake detector (`fix_encoding`: re-decoding text such as "cafÃ©" that was UTF-8 read as a
 * single-byte encoding), which is not implemented. Everything else is: the text is processed line by
 * line; each line is fixed repeatedly until stable by
 *   unescape_html (disabled from the first line that contains "<" on), fix_c1_controls,
 *   fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks, fix_surrogates,
 *   remove_terminal_escapes, remove_control_chars, then NFC normalisation.
 *
 * Whitespace follows Python: `\s` of the `regex` module is the Unicode White_Space set (which
 * includes U+0085 but not U+FEFF, unlike JavaScript's `\s`), and `str.strip()` also strips
 * U+001C–U+001F.
 */
import { ftfyUnescapeHtml, pyHtmlUnescape } from './tokenizer-html.ts';

/** The characters matched by `\s` in Python's `regex` module (Unicode White_Space). */
export const PY_WHITESPACE_CLASS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const WHITESPACE_RUN_RE = new RegExp(`[${PY_WHITESPACE_CLASS}]+`, 'gu');
// str.strip() strips str.isspace() characters: White_Space plus the information separators.
const STRIP_RE = new RegExp(`^[${PY_WHITESPACE_CLASS}\\x1c-\\x1f]+|[${PY_WHITESPACE_CLASS}\\x1c-\\x1f]+$`, 'gu');

/** Python's `str.strip()` with no argument. */
export function pyStrip(text: string): string {
  return text.replace(STRIP_RE, '');
}

/** C1 controls read as Windows-1252 ("sloppy": undefined bytes keep their Latin-1 meaning). */
const C1_AS_CP1252 =
  '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f' +
  '\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

const LIGATURES: ReadonlyMap<string, string> = new Map<string, string>([
  ['\u0132', 'IJ'],
  ['\u0133', 'ij'],
  ['\u0149', '\u02bcn'],
  ['\u01f1', 'DZ'],
  ['\u01f2', 'Dz'],
  ['\u01f3', 'dz'],
  ['\u01c4', 'D\u017d'],
  ['\u01c5', 'D\u017e'],
  ['\u01c6', 'd\u017e'],
  ['\u01c7', 'LJ'],
  ['\u01c8', 'Lj'],
  ['\u01c9', 'lj'],
  ['\u01ca', 'NJ'],
  ['\u01cb', 'Nj'],
  ['\u01cc', 'nj'],
  ['\ufb00', 'ff'],
  ['\ufb01', 'fi'],
  ['\ufb02', 'fl'],
  ['\ufb03', 'ffi'],
  ['\ufb04', 'ffl'],
  ['\ufb05', '\u017ft'],
  ['\ufb06', 'st'],
]);
const LIGATURE_RE = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;

let widthMap: Map<string, string> | undefined;
function halfwidthFor(ch: string): string {
  if (widthMap === undefined) {
    // U+3000 becomes a space; U+FF01–U+FFEF become their NFKC form where that differs.
    const map = new Map<string, string>([['\u3000', ' ']]);
    for (let cp = 0xff01; cp < 0xfff0; cp++) {
      const c = String.fromCharCode(cp);
      const alt = c.normalize('NFKC');
      if (alt !== c) map.set(c, alt);
    }
    widthMap = map;
  }
  return widthMap.get(ch) ?? ch;
}

const C1_RE = /[\x80-\x9f]/g;
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;
const LINE_BREAK_RE = /\r\n|[\r\u2028\u2029\x85]/g;
const LONE_SURROGATE_RE = /\p{Cs}/gu;
const ANSI_ESCAPE_RE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function fixSegment(segment: string, unescape: boolean): string {
  let text = segment;
  for (;;) {
    const orig = text;
    if (unescape) text = ftfyUnescapeHtml(text);
    text = text.replace(C1_RE, (c) => C1_AS_CP1252[c.charCodeAt(0) - 0x80]);
    text = text.replace(LIGATURE_RE, (c) => LIGATURES.get(c) ?? c);
    text = text.replace(WIDTH_RE, halfwidthFor);
    text = text.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
    text = text.replace(LINE_BREAK_RE, '\n');
    text = text.replace(LONE_SURROGATE_RE, '\ufffd');
    text = text.replace(ANSI_ESCAPE_RE, '');
    text = text.replace(CONTROL_RE, '');
    text = text.normalize('NFC');
    if (text === orig) return text;
  }
}

const MAX_SEGMENT = 1_000_000;

/** ftfy's `fix_text` with default settings, without mojibake re-decoding (see the module comment). */
export function ftfyFixText(text: string): string {
  const out: string[] = [];
  let unescape = true;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    if (end - pos > MAX_SEGMENT) end = pos + MAX_SEGMENT;
    const segment = text.slice(pos, end);
    if (unescape && segment.includes('<')) unescape = false;
    out.push(fixSegment(segment, unescape));
    pos = end;
  }
  return out.join('');
}

/** `basic_clean` of simple_tokenizer.py. */
export function basicClean(text: string): string {
  return pyStrip(pyHtmlUnescape(pyHtmlUnescape(ftfyFixText(text))));
}

/** `whitespace_clean` of simple_tokenizer.py. */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(WHITESPACE_RUN_RE, ' '));
}

/** The full normalisation applied before splitting: whitespace_clean(basic_clean(text)).lower(). */
export function cleanText(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}
