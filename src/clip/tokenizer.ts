/**
 * CLIP BPE tokenizer: OpenAI's `clip/simple_tokenizer.py` (`SimpleTokenizer`) and `clip.tokenize`.
 *
 * encode(text):
 *   1. clean: ftfy-style fixing, HTML unescaping (twice), whitespace collapsing, lower-casing
 *      (`tokenizer-clean.ts`; ftfy's mojibake re-decoding is the one part not reproduced, so text
 *      such as "cafÃ©" is tokenized as written rather than as "café");
 *   2. split with
 *      <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *      (case-insensitive, Unicode; `\s` is Python's White_Space set);
 *   3. map each piece's UTF-8 bytes to byte symbols, mark the last symbol with "</w>" and apply the
 *      BPE merges by rank; look the resulting tokens up in the vocabulary.
 * A literal "<|startoftext|>" / "<|endoftext|>" in the text becomes the special id, as in the
 * reference.
 *
 * tokenize(texts, contextLength = 77, truncate = false) returns a row-major [N, contextLength]
 * Int32Array: SOT, the ids, EOT, then zeros. A text that needs more than contextLength ids is an
 * error naming it, unless `truncate`, in which case the row keeps its first contextLength ids and
 * the last one is replaced by EOT.
 */
import { EOT_ID, END_OF_WORD, SOT_ID, SOT_TOKEN, EOT_TOKEN, buildVocab, readBundledMerges, type BpeVocab } from './bpe-vocab.ts';
import { PY_WHITESPACE_CLASS, cleanText } from './tokenizer-clean.ts';

export { EOT_ID, SOT_ID, VOCAB_SIZE } from './bpe-vocab.ts';
export { cleanText } from './tokenizer-clean.ts';

export const DEFAULT_CONTEXT_LENGTH = 77;

const SPLIT_RE = new RegExp(
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]" + `|[^${PY_WHITESPACE_CLASS}\\p{L}\\p{N}]+`,
  'giu',
);

let shared: ClipTokenizer | undefined;

export class ClipTokenizer {
  private readonly vocab: BpeVocab;
  private readonly cache = new Map<string, string[]>();
  private readonly utf8 = new TextEncoder();

  private constructor(vocab: BpeVocab) {
    this.vocab = vocab;
    this.cache.set(SOT_TOKEN, [SOT_TOKEN]);
    this.cache.set(EOT_TOKEN, [EOT_TOKEN]);
  }

  /** The tokenizer over the bundled OpenAI vocabulary (built once, then shared). */
  static load(): ClipTokenizer {
    shared ??= new ClipTokenizer(buildVocab(readBundledMerges()));
    return shared;
  }

  /** A tokenizer over the text of another merges file in the same format. */
  static fromMerges(mergesText: string): ClipTokenizer {
    return new ClipTokenizer(buildVocab(mergesText));
  }

  /** Number of ids (49 408). */
  get vocabSize(): number {
    return this.vocab.tokens.length;
  }

  /** The vocabulary string of an id (byte symbols, "</w>" marks a word end). */
  idToToken(id: number): string {
    const t = this.vocab.tokens[id];
    if (t === undefined) throw new RangeError(`token id ${id} is outside 0..${this.vocab.tokens.length - 1}`);
    return t;
  }

  /** The id of a vocabulary string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.vocab.ids.get(token);
  }

  /** BPE of one byte-symbol word; returns the vocabulary tokens. */
  private bpe(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const symbols = Array.from(word);
    let parts: string[] = symbols.slice(0, -1);
    parts.push(symbols[symbols.length - 1] + END_OF_WORD);
    const ranks = this.vocab.ranks;
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = ranks.get(parts[i] + ' ' + parts[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = parts[best];
      const second = parts[best + 1];
      const merged: string[] = [];
      let i = 0;
      while (i < parts.length) {
        if (i + 1 < parts.length && parts[i] === first && parts[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(parts[i]);
          i += 1;
        }
      }
      parts = merged;
    }
    this.cache.set(word, parts);
    return parts;
  }

  /** BPE ids of a text, without SOT/EOT. */
  encode(text: string): number[] {
    const out: number[] = [];
    const cleaned = cleanText(text);
    const { symbolOfByte, ids } = this.vocab;
    for (const match of cleaned.matchAll(SPLIT_RE)) {
      const piece = match[0];
      let word = '';
      for (const b of this.utf8.encode(piece)) word += symbolOfByte[b];
      for (const token of this.bpe(word)) {
        const id = ids.get(token);
        if (id === undefined) throw new Error(`BPE produced a token missing from the vocabulary: ${JSON.stringify(token)}`);
        out.push(id);
      }
    }
    return out;
  }

  /** Number of positions the text takes in a context: its ids plus SOT and EOT. */
  encodeLength(text: string): number {
    return this.encode(text).length + 2;
  }

  /**
   * Text of a list of ids: the tokens' bytes decoded as UTF-8 (invalid sequences become U+FFFD),
   * each "</w>" replaced by a space.
   */
  decode(ids: readonly number[]): string {
    const { byteOfSymbol } = this.vocab;
    const bytes: number[] = [];
    for (const id of ids) {
      for (const symbol of this.idToToken(id)) {
        const b = byteOfSymbol.get(symbol);
        if (b === undefined) throw new Error(`token ${id} holds a character outside the byte alphabet`);
        bytes.push(b);
      }
    }
    const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(bytes));
    return text.replaceAll(END_OF_WORD, ' ');
  }

  /**
   * `clip.tokenize`: a row-major [texts.length, contextLength] Int32Array with SOT + ids + EOT per
   * row, zero-padded.
   */
  tokenize(texts: readonly string[], contextLength: number = DEFAULT_CONTEXT_LENGTH, truncate = false): Int32Array {
    if (!Number.isInteger(contextLength) || contextLength < 1) {
      throw new RangeError(`context length must be a positive integer, got ${contextLength}`);
    }
    const result = new Int32Array(texts.length * contextLength);
    texts.forEach((text, row) => {
      let tokens = [SOT_ID, ...this.encode(text), EOT_ID];
      if (tokens.length > contextLength) {
        if (!truncate) throw new RangeError(`Input ${text} is too long for context length ${contextLength}`);
        tokens = tokens.slice(0, contextLength);
        tokens[contextLength - 1] = EOT_ID;
      }
      result.set(tokens, row * contextLength);
    });
    return result;
  }
}
