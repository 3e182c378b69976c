import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BMAD_KEYS, DatasetError } from '../../src/data/datasets.ts';
import {
  BUNDLED_SEED_DIR,
  SHOT_COUNTS,
  bundledSeedFile,
  drawFewShotSplit,
  fewShotSplit,
  formatSeedList,
  mulberry32,
  parseSeedList,
  readSeedFile,
  resolveSeedFile,
  toSeedList,
} from '../../src/data/fewshot.ts';
import { openDataset } from '../../src/data/layout.ts';
import { makeTree, mvfaSplit, tempRoot } from './tree.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The real BUSI subset bundled for the demo (2 + 2 few-shot images, 20 + 20 test images). */
const DEMO_BUSI = join(REPO, 'demo/BUSI_demo_AD');
/** An independent copy of the 24 official seed lists (the specification's Appendix A). */
const SPEC = join(REPO, 'fixtures/data/mvfa-seed-lists.md');
/** The K-shot lists of the full BUSI_AD folder (16 + 16 few-shot pool); its valid/ names are rebuilt from them. */
const BUSI_SEEDS = join(REPO, 'fixtures/data/BUSI_AD_fewshot_seed');

/** A BUSI_AD-like tree (file names only) whose valid/ holds exactly the 16-shot names, with the real seed lists. */
function busiTree(base: string): string {
  const root = join(base, 'BUSI_AD');
  const sixteen = readSeedFile(join(BUSI_SEEDS, '16-shot.txt'));
  makeTree(root, [...mvfaSplit('valid', [...sixteen.normal].sort(), [...sixteen.abnormal].sort()), ...mvfaSplit('test', ['t1.png'], ['u1.png'])]);
  makeTree(root, ['fewshot_seed/']);
  for (const k of SHOT_COUNTS) writeFileSync(join(root, 'fewshot_seed', `${k}-shot.txt`), readFileSync(join(BUSI_SEEDS, `${k}-shot.txt`)));
  return root;
}

function throwsDataset(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DatasetError, `expected DatasetError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message '${e.message}' lacks '${f}'`);
    return true;
  });
}

/** The Appendix A code block of the spec: "Class/K-shot.txt" → its two lines. */
function specSeedFiles(): Map<string, string[]> {
  assert.ok(existsSync(SPEC), `spec not found at ${SPEC}`);
  const text = readFileSync(SPEC, 'utf8');
  const appendix = text.slice(text.indexOf('## Appendix A'));
  const block = appendix.split('```')[1];
  const files = new Map<string, string[]>();
  let current = '';
  for (const line of block.split('\n')) {
    const m = /^### (\S+)$/.exec(line);
    if (m) {
      current = m[1];
      files.set(current, []);
    } else if (line.trim() !== '') {
      files.get(current)?.push(line);
    }
  }
  return files;
}

test('all 24 bundled seed lists are the spec Appendix A verbatim, K names per line', () => {
  const spec = specSeedFiles();
  assert.equal(spec.size, 24);
  let count = 0;
  for (const key of BMAD_KEYS) {
    assert.deepEqual(readdirSync(join(BUNDLED_SEED_DIR, key)).sort(), ['16-shot.txt', '2-shot.txt', '4-shot.txt', '8-shot.txt']);
    for (const k of SHOT_COUNTS) {
      const file = bundledSeedFile(key, k);
      const lines = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '');
      assert.deepEqual(lines, spec.get(`${key}/${k}-shot.txt`), file);
      const list = readSeedFile(file);
      assert.equal(list.abnormal.length, k, `${file} a-0`);
      assert.equal(list.normal.length, k, `${file} n-0`);
      const ext = key === 'Retina_OCT2017' ? '.jpeg' : '.png';
      for (const n of [...list.abnormal, ...list.normal]) assert.ok(n.endsWith(ext), `${file}: ${n}`);
      assert.equal(new Set(list.abnormal).size, k, `${file}: duplicate abnormal names`);
      assert.equal(new Set(list.normal).size, k, `${file}: duplicate normal names`);
      count++;
    }
  }
  assert.equal(count, 24);
  // Spot checks straight from Appendix A.
  assert.deepEqual(readSeedFile(bundledSeedFile('Brain', 2)), {
    abnormal: ['01471_60.png', '00124_80.png'],
    normal: ['01368_60.png', '00303_99.png'],
  });
  assert.deepEqual(readSeedFile(bundledSeedFile('Histopathology', 2)), {
    abnormal: ['1094.png', '1045.png'],
    normal: ['1116.png', '399.png'],
  });
});

test('seed-list parser: either order, CRLF, blank lines, iterate, first match wins', () => {
  const text = '\r\nn-1: x.png\r\nn-0: n1.png  n2.png\r\n\r\na-0: a1.png\ta2.png\r\na-0: ignored.png\r\na-1: y.png\r\n';
  assert.deepEqual(parseSeedList(text, 'mem'), { abnormal: ['a1.png', 'a2.png'], normal: ['n1.png', 'n2.png'] });
  assert.deepEqual(parseSeedList(text, 'mem', 1), { abnormal: ['y.png'], normal: ['x.png'] });
  throwsDataset(() => parseSeedList('a-0: a.png\n', 'some/file.txt'), 'some/file.txt', "'n-0:'");
  throwsDataset(() => parseSeedList('n-0: a.png\nxa-0: b.png', 'f.txt'), 'f.txt', "'a-0:'");
  const round = parseSeedList(formatSeedList({ abnormal: ['p.png'], normal: ['q.png'] }, 3), 'mem', 3);
  assert.deepEqual(round, { abnormal: ['p.png'], normal: ['q.png'] });
});

test('fewShotSplit resolves the bundled list against valid/ (MVFA layout, masks)', (t) => {
  const base = tempRoot('fs');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'Liver_AD');
  // Liver/4-shot.txt from Appendix A, plus distractors.
  const a = ['4_487.png', '9_478.png', '10_340.png', '6_364.png'];
  const n = ['8_332.png', '2_432.png', '10_455.png', '6_445.png'];
  makeTree(root, [...mvfaSplit('valid', [...n, '1_1.png'], [...a, '1_2.png']), ...mvfaSplit('test', ['t.png'], ['u.png'])]);
  const s = fewShotSplit(root, 'Liver', 4);
  assert.equal(s.seedFile, bundledSeedFile('Liver', 4));
  assert.deepEqual(
    s.abnormals,
    a.map((x) => join(root, 'valid/Ungood/img', x)),
  );
  assert.deepEqual(
    s.normals,
    n.map((x) => join(root, 'valid/good/img', x)),
  );
  assert.deepEqual(
    [...s.masks.values()],
    a.map((x) => join(root, 'valid/Ungood/anomaly_mask', x)),
  );
  // Same result when the key is implied by the folder name.
  assert.deepEqual(fewShotSplit(root, undefined, 4).normals, s.normals);
  assert.deepEqual(toSeedList(s), { abnormal: a, normal: n });

  rmSync(join(root, 'valid/good/img/2_432.png'));
  throwsDataset(() => fewShotSplit(root, 'Liver', 4), bundledSeedFile('Liver', 4), "'2_432.png'", join(root, 'valid/good/img/2_432.png'));
  throwsDataset(() => fewShotSplit(root, 'Liver', 3), bundledSeedFile('Liver', 3));
});

test("fewShotSplit: BMAD's flat AC-only layout, explicit seed files, own lists, errors", (t) => {
  const base = tempRoot('fs2');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const histo = join(base, 'Histopathology_AD');
  makeTree(histo, ['valid/good/1116.png', 'valid/good/399.png', 'valid/Ungood/1094.png', 'valid/Ungood/1045.png', 'train/good/1.png']);
  const h = fewShotSplit(histo, 'Histopathology', 2);
  assert.deepEqual(h.normals, [join(histo, 'valid/good/1116.png'), join(histo, 'valid/good/399.png')]);
  assert.deepEqual(h.abnormals, [join(histo, 'valid/Ungood/1094.png'), join(histo, 'valid/Ungood/1045.png')]);
  assert.equal(h.masks.size, 0);

  const gen = join(base, 'Gen_AD');
  makeTree(gen, mvfaSplit('valid', ['g1.png', 'g2.png', 'g3.png'], ['b1.png', 'b2.png']));
  throwsDataset(() => fewShotSplit(gen, undefined, 2), join(gen, 'fewshot_seed', '2-shot.txt'));
  const seed = join(base, 'my-2-shot.txt');
  writeFileSync(seed, 'n-0: g3.png g1.png g2.png\na-0: b2.png b1.png\n');
  const g = fewShotSplit(gen, seed, 2);
  assert.equal(g.seedFile, seed);
  assert.deepEqual(
    g.normals.map((p) => basename(p)),
    ['g3.png', 'g1.png'],
  ); // first K, list order
  assert.deepEqual(
    [...g.masks.keys()].map((p) => basename(p)),
    ['b2.png', 'b1.png'],
  );
  throwsDataset(() => fewShotSplit(gen, seed, 3), seed, 'lists 2 abnormal names, 3 needed');
  // The dataset's own list is used when no source is given, and wins over nothing else.
  makeTree(gen, ['fewshot_seed/']);
  writeFileSync(join(gen, 'fewshot_seed', '2-shot.txt'), 'a-0: b1.png b2.png\nn-0: g2.png g3.png\n');
  assert.equal(resolveSeedFile(gen, 2), join(gen, 'fewshot_seed', '2-shot.txt'));
  assert.deepEqual(
    fewShotSplit(gen, undefined, 2).normals.map((p) => basename(p)),
    ['g2.png', 'g3.png'],
  );
  rmSync(join(gen, 'valid/Ungood/anomaly_mask/b2.png'));
  throwsDataset(() => fewShotSplit(gen, undefined, 2), 'missing mask', join(gen, 'valid/Ungood/anomaly_mask/b2.png'));
  assert.equal(fewShotSplit(gen, undefined, 2, { task: 'AC' }).masks.size, 0);
  throwsDataset(() => fewShotSplit(gen, undefined, 0), 'positive integer');
});

function checkOwnList(root: string, k: number): void {
  const s = fewShotSplit(root, undefined, k);
  const own = join(root, 'fewshot_seed', `${k}-shot.txt`);
  assert.equal(s.seedFile, own);
  const lines = readFileSync(own, 'utf8').split('\n');
  const names = (prefix: string) => (lines.find((l) => l.startsWith(prefix)) ?? '').split(/\s+/).slice(1).filter(Boolean);
  assert.deepEqual(
    s.abnormals,
    names('a-0:').map((x) => join(root, 'valid/Ungood/img', x)),
  );
  assert.deepEqual(
    s.normals,
    names('n-0:').map((x) => join(root, 'valid/good/img', x)),
  );
  assert.equal(s.abnormals.length, k);
  assert.equal(s.masks.size, k);
  for (const [img, mask] of s.masks) {
    assert.equal(mask, join(root, 'valid/Ungood/anomaly_mask', basename(img)));
    assert.ok(existsSync(mask));
  }
}

test('bundled demo BUSI: its own 2-shot list resolves to the real files', () => {
  checkOwnList(DEMO_BUSI, 2);
  assert.deepEqual(
    fewShotSplit(DEMO_BUSI, undefined, 2).normals.map((p) => basename(p)),
    ['busi_0464.png', 'busi_0147.png'],
  );
});

test("BUSI_AD's own fewshot_seed lists resolve for K = 2, 4, 8, 16 (nested prefixes of one draw)", (t) => {
  const base = tempRoot('busi');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = busiTree(base);
  for (const k of SHOT_COUNTS) checkOwnList(root, k);
  const sixteen = fewShotSplit(root, undefined, 16);
  for (const k of [2, 4, 8]) assert.deepEqual(fewShotSplit(root, undefined, k).normals, sixteen.normals.slice(0, k), `${k}-shot`);
});

/** Independent mulberry32 in BigInt arithmetic. */
function mulberry32Ref(seed: number, count: number): number[] {
  const M = 0xffffffffn;
  let a = BigInt(seed >>> 0);
  const mul = (x: bigint, y: bigint) => (x * y) & M;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5n) & M;
    let t = mul(a ^ (a >> 15n), a | 1n);
    t = (t ^ ((t + mul(t ^ (t >> 7n), t | 61n)) & M)) & M;
    out.push(Number((t ^ (t >> 14n)) & M) / 2 ** 32);
  }
  return out;
}

test('mulberry32 matches an independent implementation', () => {
  for (const seed of [0, 1, 111, 0xdeadbeef, 2 ** 32 - 1]) {
    const r = mulberry32(seed);
    assert.deepEqual(
      Array.from({ length: 50 }, () => r()),
      mulberry32Ref(seed, 50),
      `seed ${seed}`,
    );
  }
});

test('drawFewShotSplit: deterministic seeded K-shot draws from valid/', (t) => {
  const base = tempRoot('draw');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const valid = openDataset(busiTree(base), { organ: 'breast ultrasound' }).valid;
  assert.equal(valid.normals.length, 16);
  const a = drawFewShotSplit(valid, 4, 111);
  const b = drawFewShotSplit(valid, 4, 111);
  assert.deepEqual(a, b);
  assert.equal(a.seed, 111);
  assert.equal(a.seedFile, null);
  assert.equal(a.normals.length, 4);
  assert.equal(new Set(a.abnormals).size, 4);
  assert.ok(a.normals.every((p) => valid.normals.includes(p)));
  assert.ok(a.abnormals.every((p) => valid.abnormals.includes(p)));
  assert.deepEqual([...a.masks.keys()], a.abnormals);
  assert.notDeepEqual(drawFewShotSplit(valid, 4, 112).normals, a.normals);
  // Whole pool: a permutation.
  assert.deepEqual([...drawFewShotSplit(valid, 16, 5).normals].sort(), [...valid.normals].sort());
  throwsDataset(() => drawFewShotSplit(valid, 17, 1), 'cannot draw 17');
  // Each element is about equally likely to be drawn (loose check over many seeds).
  const hits = new Map<string, number>();
  for (let s = 0; s < 800; s++) for (const p of drawFewShotSplit(valid, 2, s).normals) hits.set(p, (hits.get(p) ?? 0) + 1);
  for (const p of valid.normals) {
    const h = hits.get(p) ?? 0;
    assert.ok(h > 50 && h < 150, `${basename(p)} drawn ${h} times of ~100`);
  }
});
