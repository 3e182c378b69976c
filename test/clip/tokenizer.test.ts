import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ClipTokenizer, EOT_ID, SOT_ID, VOCAB_SIZE, cleanText } from '../../src/clip/tokenizer.ts';
import { MERGE_COUNT, buildVocab, readBundledMerges } from '../../src/clip/bpe-vocab.ts';

const ASSET = new URL('../../src/clip/assets/bpe_simple_vocab_16e6.txt.gz', import.meta.url);
const FIXTURE = new URL('../../fixtures/clip/tokenizer_ids.json', import.meta.url);
// SHA-256 of the decompressed asset: the header line and the 48 894 merge lines of
// bpe_simple_vocab_16e6.txt, each followed by "\n" (see src/clip/assets/README.md).
const MERGES_SHA256 = '7cf6a885dcaf57e02c46d4e057b275bb08e73bbd9e96cd98cd7a64320a076b24';

interface EdgeCase {
  text: string;
  clean: string;
  ids: number[];
}
interface Fixture {
  merges_gz_decompressed_sha256: string;
  prompts: [string, number[]][];
  edge: EdgeCase[];
  long: { text: string; ids: number[]; error: string; truncated: number[]; tokenize_ctx16_truncate: number[][] };
  tokenize: { texts: string[]; rows: number[][] };
  decode: { ids: number[]; text: string }[];
}

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;
const tok = ClipTokenizer.load();

function rowsOf(flat: Int32Array, ctx: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < flat.length; i += ctx) rows.push(Array.from(flat.subarray(i, i + ctx)));
  return rows;
}

test('bundled merges: size, checksum, 48 894 well-formed rules built only from earlier tokens', () => {
  assert.ok(statSync(ASSET).size <= 1.5 * 1024 * 1024);
  const text = readBundledMerges();
  assert.equal(createHash('sha256').update(text, 'utf8').digest('hex'), MERGES_SHA256);
  assert.equal(fixture.merges_gz_decompressed_sha256, MERGES_SHA256);
  const lines = text.split('\n');
  assert.equal(lines[0], 'bpe_simple_vocab_16e6.txt#version: 0.2');
  assert.equal(lines.length, 1 + MERGE_COUNT + 1);
  assert.equal(lines[lines.length - 1], '');
  assert.equal(MERGE_COUNT, 48894);
  const vocab = buildVocab(text);
  assert.equal(vocab.tokens.length, VOCAB_SIZE);
  assert.equal(vocab.ids.size, VOCAB_SIZE, 'vocabulary strings are unique');
  for (let i = 0; i < MERGE_COUNT; i++) {
    const [left, right] = lines[1 + i].split(' ');
    const l = vocab.ids.get(left);
    const r = vocab.ids.get(right);
    assert.ok(l !== undefined && l < 512 + i, `merge ${i}: left piece ${left} not defined before it`);
    assert.ok(r !== undefined && r < 512 + i, `merge ${i}: right piece ${right} not defined before it`);
  }
  assert.equal(vocab.tokens[SOT_ID], '<|startoftext|>');
  assert.equal(vocab.tokens[EOT_ID], '<|endoftext|>');
});

test('vocabulary ids match the published openai/clip-vit vocab.json entries', () => {
  const published: [string, number][] = [
    ['a</w>', 320],
    ['of</w>', 539],
    ['photo</w>', 1125],
    ['dog</w>', 1929],
    ['cat</w>', 2368],
    ['<|startoftext|>', 49406],
    ['<|endoftext|>', 49407],
  ];
  for (const [token, id] of published) {
    assert.equal(tok.tokenToId(token), id, token);
    assert.equal(tok.idToToken(id), token);
  }
  // Layout: byte symbols from "!" (0), the same with "</w>" from 256, merges from 512 ("i n" first).
  assert.equal(tok.idToToken(0), '!');
  assert.equal(tok.idToToken(256), '!</w>');
  assert.equal(tok.idToToken(512), 'in');
  assert.equal(tok.vocabSize, 49408);
  assert.throws(() => tok.idToToken(49408), RangeError);
});

test('ids published alongside other CLIP tokenizer implementations', () => {
  const cases: [string, number[]][] = [
    ['a photo of a cat', [320, 1125, 539, 320, 2368]],
    ['a photo of a dog', [320, 1125, 539, 320, 1929]],
    ['hello', [3306]],
    ['magnificent', [10724]],
    ['magnificently', [9725, 2922]],
    ['hello world!', [3306, 1002, 256]],
    ['Hi there', [1883, 997]],
    ['Hello, World! 123', [3306, 267, 1002, 256, 272, 273, 274]],
    ['a photo of an astronaut riding a horse on mars', [320, 1125, 539, 550, 18376, 6765, 320, 4558, 525, 7496]],
    ['Apple CoreML developer tools on a Macbook Air are fast', [3055, 19622, 5780, 10929, 5771, 525, 320, 20617, 1922, 631, 1953]],
    ['person working at a computer', [2533, 1699, 536, 320, 11639, 652]],
    ['sunset over mountains', [3424, 962, 5873]],
    ['code editor with syntax highlighting', [3217, 7661, 593, 3758, 3879, 17344]],
    ["it's a beautiful day", [585, 568, 320, 1215, 575]],
    ["I can't believe it's not butter", [328, 753, 713, 2649, 585, 568, 783, 6952]],
    ["they're working on it", [889, 982, 1699, 525, 585]],
    ['hello, world! how are you?', [3306, 267, 1002, 256, 829, 631, 592, 286]],
    ['email: user@example.com', [4462, 281, 7031, 287, 6228, 269, 2464]],
    ['!!!', [995]],
    ['the year 2024 was interesting', [518, 935, 273, 271, 273, 275, 739, 3628]],
    ['3.14 is pi', [274, 269, 272, 275, 533, 5357]],
    ['  HELLO   World  ', [3306, 1002]],
    ['MacBook Pro 16-inch', [20617, 2630, 272, 277, 268, 6523]],
    ['', []],
  ];
  for (const [text, ids] of cases) assert.deepEqual(tok.encode(text), ids, text);
});

test('all 2100 MVFA prompts (5 organ names x 12 states x 35 templates) match the Python reference', () => {
  assert.equal(fixture.prompts.length, 2100);
  for (const [text, ids] of fixture.prompts) assert.deepEqual(tok.encode(text), ids, text);
  // Every prompt fits the 77-token context with room to spare.
  const rows = tok.tokenize(fixture.prompts.map(([text]) => text));
  assert.equal(rows.length, 2100 * 77);
});

test('edge cases: cleaning and ids match the Python reference (ftfy, html.unescape, regex)', () => {
  assert.ok(fixture.edge.length >= 100);
  for (const c of fixture.edge) {
    assert.equal(cleanText(c.text), c.clean, `clean ${JSON.stringify(c.text)}`);
    assert.deepEqual(tok.encode(c.text), c.ids, `ids ${JSON.stringify(c.text)}`);
  }
});

test('selected edge cases, spelled out', () => {
  const byText = new Map(fixture.edge.map((c) => [c.text, c] as const));
  const ids = (t: string): number[] => {
    const c = byText.get(t);
    assert.ok(c, `fixture lacks ${JSON.stringify(t)}`);
    return c.ids;
  };
  assert.deepEqual(tok.encode("don't"), ids("don't"));
  assert.deepEqual(tok.encode('don’t'), tok.encode("don't"), 'curly apostrophe is uncurled');
  assert.deepEqual(tok.encode('Tom &amp; Jerry'), tok.encode('tom & jerry'));
  assert.deepEqual(tok.encode('&#39;quoted&#39; &#x27;hex&#x27;'), tok.encode("'quoted' 'hex'"));
  assert.deepEqual(tok.encode('cafe\u0301'), tok.encode('café'), 'NFC');
  assert.deepEqual(tok.encode('multiple    spaces   here'), tok.encode('multiple spaces here'));
  assert.deepEqual(tok.encode('line1\nline2\r\nline3\rline4'), tok.encode('line1 line2 line3 line4'));
  assert.deepEqual(tok.encode('<|endoftext|>'), [EOT_ID]);
  assert.deepEqual(tok.encode('hi <|endoftext|> there'), ids('hi <|endoftext|> there'));
  assert.equal(cleanText('\n\t  \r\n'), '');
  assert.deepEqual(tok.encode('\n\t  \r\n'), []);
});

test('tokenize: SOT + ids + EOT, zero padded rows', () => {
  const { texts, rows } = fixture.tokenize;
  assert.deepEqual(rowsOf(tok.tokenize(texts), 77), rows);
  const one = tok.tokenize(['a photo of a cat']);
  assert.ok(one instanceof Int32Array);
  assert.deepEqual(Array.from(one.subarray(0, 8)), [49406, 320, 1125, 539, 320, 2368, 49407, 0]);
  assert.ok(one.subarray(7).every((v) => v === 0));
  assert.equal(tok.tokenize([]).length, 0);
  assert.equal(tok.encodeLength('a photo of a cat'), 7);
  assert.equal(tok.encodeLength(''), 2);
});

test('tokenize: a text over the context length is an error naming it, or truncated with EOT last', () => {
  const { text, ids, error, truncated, tokenize_ctx16_truncate } = fixture.long;
  assert.equal(ids.length + 2 > 77, true);
  assert.deepEqual(tok.encode(text), ids);
  assert.throws(
    () => tok.tokenize(['fine', text]),
    (err: unknown) => err instanceof Error && err.message === error,
  );
  assert.deepEqual(Array.from(tok.tokenize([text], 77, true)), truncated);
  assert.equal(truncated[76], EOT_ID);
  assert.deepEqual(rowsOf(tok.tokenize(['a photo of a cat', text], 16, true), 16), tokenize_ctx16_truncate);
  // Exactly filling the context is allowed.
  const exact = 'a '.repeat(75);
  assert.equal(tok.encodeLength(exact), 77);
  assert.doesNotThrow(() => tok.tokenize([exact]));
  assert.throws(() => tok.tokenize([exact + 'a']), /too long for context length 77/);
  assert.throws(() => tok.tokenize(['x'], 0), RangeError);
});

test('decode matches the Python reference, including broken UTF-8', () => {
  for (const d of fixture.decode) assert.equal(tok.decode(d.ids), d.text, JSON.stringify(d.ids));
  assert.equal(tok.decode(tok.encode('Hello, World!')), 'hello , world ! ');
  assert.equal(tok.decode(tok.encode('naïve café 日本 😀')), 'naïve café 日本 😀 ');
});

test('load() builds the vocabulary once and shares it', () => {
  assert.equal(ClipTokenizer.load(), tok);
  const other = ClipTokenizer.fromMerges(readBundledMerges());
  assert.notEqual(other, tok);
  assert.deepEqual(other.encode('a photo of a cat'), [320, 1125, 539, 320, 2368]);
});
