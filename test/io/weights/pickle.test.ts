import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { PickleTruncatedError, PyObject, unpickle, type PyValue, type UnpickleOptions } from '../../../src/io/weights/pickle.ts';
import { WeightFileError } from '../../../src/io/weights/tensor.ts';
import { torchFindGlobal } from '../../../src/io/weights/torch-globals.ts';
import { fixture, readJson } from '../helpers.ts';

type Tagged =
  | null
  | boolean
  | { int: string }
  | { float: string }
  | { str: string }
  | { bytes: string }
  | { seq: Tagged[] }
  | { dict: [Tagged, Tagged][] }
  | { set: Tagged[] };

/** Our value in the tagged form the python script prints (floats as Python repr). */
function tag(v: PyValue): Tagged {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number') return Number.isInteger(v) ? { int: String(v) } : { float: String(v) }; // only used inside sets
  if (typeof v === 'string') return { str: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { seq: v.map(tag) };
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [tag(k), tag(x)] as [Tagged, Tagged]) };
  if (v instanceof Set) return { set: [...v].map(tag).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
  throw new Error(`unexpected ${String(v)}`);
}

/** Compares numbers against the python tag (ints exactly, floats by value incl. -0 and infinities). */
function assertSame(got: PyValue, want: Tagged, path: string): void {
  if (typeof got === 'number') {
    assert.ok(want !== null && typeof want === 'object', path);
    if ('int' in want) assert.equal(String(got), want.int, path);
    else if ('float' in want) {
      const f = { inf: Infinity, '-inf': -Infinity }[want.float] ?? Number(want.float);
      assert.ok(Object.is(got, f), `${path}: ${got} vs ${want.float}`);
    } else assert.fail(`${path}: got number ${got}, want ${JSON.stringify(want)}`);
    return;
  }
  if (Array.isArray(got) && want && typeof want === 'object' && 'seq' in want) {
    assert.equal(got.length, want.seq.length, path);
    got.forEach((x, i) => assertSame(x, want.seq[i], `${path}[${i}]`));
    return;
  }
  if (got instanceof Map && want && typeof want === 'object' && 'dict' in want) {
    const entries = [...got];
    assert.equal(entries.length, want.dict.length, path);
    entries.forEach(([k, x], i) => {
      assertSame(k, want.dict[i][0], `${path}.key${i}`);
      assertSame(x, want.dict[i][1], `${path}[${JSON.stringify(want.dict[i][0])}]`);
    });
    return;
  }
  assert.deepEqual(tag(got), want, path);
}

const opts = (file = 'test.pkl', extra: Partial<UnpickleOptions> = {}): UnpickleOptions => ({
  file,
  findGlobal: torchFindGlobal(file),
  ...extra,
});

interface Case {
  protocol: number;
  b64: string;
  expected: Tagged;
}
// Pickled by Python at every protocol, with the values it pickled (scripts/fixtures/io_pickle.py).
const cases = readJson<Case[]>(fixture('pickle_cases.json.gz'));

test('protocols 0–5: values equal what python pickled', () => {
  assert.equal(cases.length, 6);
  for (const c of cases) {
    const bytes = Buffer.from(c.b64, 'base64');
    const { value, end } = unpickle(bytes, opts());
    assert.equal(end, bytes.length);
    assertSame(value, c.expected, `protocol ${c.protocol}`);
    // shared references stay shared (memo)
    const shared = (value as Map<PyValue, PyValue>).get('shared') as PyValue[][];
    assert.equal(shared[0], shared[1], `protocol ${c.protocol}: memo sharing`);
  }
});

test('every truncation of a pickle fails with a truncation error, never a hang', () => {
  for (const c of cases.filter((x) => x.protocol === 2 || x.protocol === 0)) {
    const bytes = Buffer.from(c.b64, 'base64');
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(
        () => unpickle(bytes.subarray(0, cut), opts('cut.pkl')),
        (e: unknown) => e instanceof PickleTruncatedError && e.message.startsWith('cut.pkl: truncated pickle: '),
        `cut at ${cut}`,
      );
    }
  }
});

test('dangerous globals are refused by name and nothing runs', () => {
  const marker = '/tmp/mvfa-io-fixture-pwned';
  rmSync(marker, { force: true });
  const files: [string, string][] = [
    ['malicious_system.pkl', 'posix.system'],
    ['malicious_eval_p4.pkl', 'builtins.eval'],
    ['malicious_popen.pkl', 'subprocess.Popen'],
    ['malicious_getattr_p0.pkl', '__builtin__.getattr'],
  ];
  for (const [f, global] of files) {
    assert.throws(() => unpickle(readFileSync(fixture(f)), opts(`model-${f}`)), {
      message: `model-${f}: refusing to load global '${global}' (only tensor data is allowed)`,
    });
  }
  assert.equal(existsSync(marker), false);
});

const P = (...parts: (number | string | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from([p]) : typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

test('other globals and opcodes that could reach code are refused', () => {
  const refused: [Buffer, string][] = [
    [P(0x80, 2, 'cbuiltins\nexec\n', ')', 'R.'), "refusing to load global 'builtins.exec'"],
    [P(0x80, 2, 'ctorch\nload\n', ')', 'R.'), "refusing to load global 'torch.load'"],
    [P(0x80, 2, 'c__torch__\nEvil\n', ')', 0x81, '.'), "refusing to load global '__torch__.Evil'"],
    [P(0x80, 2, 'ctorch\ntoString\n.'), "refusing to load global 'torch.toString'"],
    [P(0x80, 2, 0x82, 1, '.'), 'refusing extension registry code 1'],
    [P(0x80, 5, '(', 'ccollections\nOrderedDict\n', 'o.'), ''],
  ];
  for (const [bytes, msg] of refused) {
    if (!msg) {
      // OBJ on an allowed class works
      assert.ok(unpickle(bytes, opts()).value instanceof Map);
      continue;
    }
    assert.throws(() => unpickle(bytes, opts()), { message: `test.pkl: ${msg} (only tensor data is allowed)` });
  }
  // REDUCE/NEWOBJ only on accepted callables; BUILD only where state is data
  assert.throws(
    () => unpickle(P(0x80, 2, ']', ')', 'R.'), opts()),
    /test\.pkl: malformed pickle at byte 5: REDUCE on list\/tuple, which is not an accepted callable/,
  );
  assert.throws(() => unpickle(P(0x80, 2, 'ctorch\nFloatStorage\n', ')', 'R.'), opts()), /REDUCE on torch\.FloatStorage, which is not an accepted callable/);
  assert.throws(() => unpickle(P(0x80, 2, 'ccollections\nOrderedDict\n', ')', 0x81, 'X', 1, 0, 0, 0, 's', 'b.'), opts()), /BUILD state string on dict/);
  assert.throws(() => unpickle(P(0x80, 2, ']', 'N', 'b.'), opts()), /BUILD on list\/tuple/);
  assert.throws(() => unpickle(P(0x80, 2, 'K', 1, 'Q.'), opts()), /persistent id found but this file kind has no external storages/);
  assert.throws(() => unpickle(P(0x80, 5, 0x97, '.'), opts()), /out-of-band buffers \(NEXT_BUFFER\) are not supported/);
  assert.throws(() => unpickle(P(0x80, 2, 0xff), opts()), { message: 'test.pkl: malformed pickle at byte 2: unknown opcode 0xff' });
  assert.throws(() => unpickle(P(0x80, 6, 'N.'), opts()), /unsupported pickle protocol 6/);
});

test('TorchScript classes become inert objects only when enabled', () => {
  const bytes = P(0x80, 2, 'c__torch__.m\nNet\n', ')', 0x81, '}', 'X', 4, 0, 0, 0, 'trai', 0x88, 's', 'b.');
  const { value } = unpickle(bytes, { file: 'x.pt', findGlobal: torchFindGlobal('x.pt', { torchScript: true }) });
  assert.ok(value instanceof PyObject);
  assert.equal(value.pyClass, '__torch__.m.Net');
  assert.deepEqual((value as unknown as { state: Map<string, boolean> }).state, new Map([['trai', true]]));
});

test('resource limits: stack, memo, mark nesting, integer size, declared lengths', () => {
  const dups = P(0x80, 2, 'N', '2'.repeat(2000), '.');
  assert.throws(() => unpickle(dups, opts('s.pkl', { limits: { maxStack: 1000 } })), /s\.pkl: malformed pickle at byte \d+: stack exceeds 1000 items/);
  const puts = P(0x80, 2, 'N', ...Array.from({ length: 20 }, (_, i) => P('q', i)), '.');
  assert.throws(() => unpickle(puts, opts('m.pkl', { limits: { maxMemo: 10 } })), /memo exceeds 10 entries/);
  assert.throws(() => unpickle(P(0x80, 2, '('.repeat(50), '.'), opts('k.pkl', { limits: { maxMarks: 20 } })), /MARK nesting exceeds 20/);
  assert.throws(() => unpickle(P(0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0x7f, '.'), opts()), /integer of 2147483647 bytes is too large/);
  // an 8-byte length far beyond the data is a truncation error, not an allocation
  const huge = P(0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x10, '.');
  assert.throws(
    () => unpickle(huge, opts()),
    (e: unknown) => e instanceof PickleTruncatedError && /BINUNICODE8 at byte 11 needs/.test((e as Error).message),
  );
  assert.throws(() => unpickle(P(0x80, 2, 'h', 5, '.'), opts()), /memo key 5 not found/);
  assert.throws(() => unpickle(P(0x80, 2, 'a.'), opts()), /stack underflow/);
  assert.throws(() => unpickle(P(0x80, 2, '(N', 'u.'), opts()), /odd number of items for SETITEMS/);
  for (const bad of [P(0x80, 2, 'e.'), P(0x80, 2, 'N1.')])
    assert.throws(
      () => unpickle(bad, opts()),
      (e: unknown) => e instanceof WeightFileError,
    );
});

test('sequential pickles: unpickle returns the end offset', () => {
  const two = P(0x80, 2, 'K', 7, '.', 0x80, 2, 'X', 2, 0, 0, 0, 'hi', '.');
  const a = unpickle(two, opts());
  assert.deepEqual(a, { value: 7, end: 5 });
  assert.deepEqual(unpickle(two, opts(), a.end), { value: 'hi', end: two.length });
});
