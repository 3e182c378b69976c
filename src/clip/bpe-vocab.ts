/**
 * The CLIP BPE vocabulary (OpenAI `bpe_simple_vocab_16e6.txt`).
 *
 * The merges file has a header line followed by merge rules "left right". CLIP uses the first
 * 48 894 rules (lines 1 … 48 894), giving 49 408 ids:
 *   0 … 255       the 256 byte symbols of `bytesToUnicode` (in its order),
 *   256 … 511     the same symbols followed by "</w>" (end of word),
 *   512 … 49 405  the concatenation of each merge rule, in file order,
 *   49 406        <|startoftext|>,
 *   49 407        <|endoftext|>.
 * A rule's rank (its priority in BPE) is its index among the 48 894 rules.
 *
 * The bundled asset keeps only the header and those 48 894 rules of the original file (the
 * remaining lines are never read); see `assets/README.md` for its provenance and checksums.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'fflate';

export const MERGE_COUNT = 49152 - 256 - 2;
export const SOT_TOKEN = '<|startoftext|>';
export const EOT_TOKEN = '<|endoftext|>';
export const SOT_ID = 49406;
export const EOT_ID = 49407;
export const VOCAB_SIZE = 49408;
export const END_OF_WORD = '</w>';

/**
 * GPT-2/CLIP byte ↔ symbol table: printable Latin-1 bytes ("!"–"~", "¡"–"¬", "®"–"ÿ") stand for
 * themselves; the other 68 bytes map to U+0100 upwards in increasing byte order. Returned as the
 * symbol of each byte value (index = byte) and the byte order used for the vocabulary.
 */
export function bytesToUnicode(): { symbolOfByte: string[]; vocabOrder: number[] } {
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  const symbolOfByte: string[] = new Array<string>(256);
  for (const b of order) symbolOfByte[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (symbolOfByte[b] === undefined) {
      symbolOfByte[b] = String.fromCharCode(256 + n);
      order.push(b);
      n++;
    }
  }
  return { symbolOfByte, vocabOrder: order };
}

export interface BpeVocab {
  /** id → token string (length VOCAB_SIZE). */
  readonly tokens: readonly string[];
  /** token string → id. */
  readonly ids: ReadonlyMap<string, number>;
  /** "left right" → rank. */
  readonly ranks: ReadonlyMap<string, number>;
  /** byte value → symbol. */
  readonly symbolOfByte: readonly string[];
  /** symbol (one UTF-16 unit) → byte value. */
  readonly byteOfSymbol: ReadonlyMap<string, number>;
}

/** Builds the vocabulary from the text of a merges file (header line first). */
export function buildVocab(mergesText: string): BpeVocab {
  const lines = mergesText.split('\n');
  if (lines.length < 1 + MERGE_COUNT) {
    throw new Error(`BPE merges file: expected at least ${1 + MERGE_COUNT} lines, got ${lines.length}`);
  }
  const { symbolOfByte, vocabOrder } = bytesToUnicode();
  const tokens: string[] = vocabOrder.map((b) => symbolOfByte[b]);
  for (const b of vocabOrder) tokens.push(symbolOfByte[b] + END_OF_WORD);
  const ranks = new Map<string, number>();
  for (let i = 0; i < MERGE_COUNT; i++) {
    const parts = lines[1 + i].split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new Error(`BPE merges file: line ${i + 2} is not "left right": ${JSON.stringify(lines[1 + i])}`);
    }
    ranks.set(parts[0] + ' ' + parts[1], i);
    tokens.push(parts[0] + parts[1]);
  }
  tokens.push(SOT_TOKEN, EOT_TOKEN);
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => ids.set(t, i));
  const byteOfSymbol = new Map<string, number>();
  symbolOfByte.forEach((s, b) => byteOfSymbol.set(s, b));
  return { tokens, ids, ranks, symbolOfByte, byteOfSymbol };
}

/** Reads the bundled gzip asset and returns the merges file text. */
export function readBundledMerges(): string {
  const url = new URL('./assets/bpe_simple_vocab_16e6.txt.gz', import.meta.url);
  const gz = readFileSync(url);
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(gunzipSync(gz));
}
