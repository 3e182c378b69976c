import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DATASETS, DatasetError } from '../../src/data/datasets.ts';
import { compareCodePoints, inferTask, listImageNames, openBmadDataset, openDataset, orderedItems, scanSplit } from '../../src/data/layout.ts';
import { makeTree, mvfaSplit, tempRoot } from './tree.ts';

/** The real BUSI subset bundled for the demo (2 + 2 few-shot images, 20 + 20 test images with masks). */
const BUSI = fileURLToPath(new URL('../../demo/BUSI_demo_AD', import.meta.url));

function throwsDataset(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DatasetError, `expected DatasetError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message '${e.message}' lacks '${f}'`);
    return true;
  });
}

test('MVFA layout: sorted by code point, masks by file name, hidden/non-image files ignored', (t) => {
  // A data root whose path contains "img": the reference's path.replace('img', ...) would break.
  const base = tempRoot('img');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'img_sets', 'Brain_AD');
  const names = ['b.png', '10.png', '9.PNG', 'B.jpeg', '_x.tif', 'a.webp', '\u{1F600}.png', '\uFF5E.png'];
  makeTree(root, [
    ...mvfaSplit('valid', ['n2.png', 'n1.png'], ['u1.png', 'img_u2.png']),
    ...mvfaSplit('test', names, ['z.png', 'y.BMP']),
    'test/good/img/.DS_Store',
    'test/good/img/.hidden.png',
    'test/good/img/notes.txt',
    'test/good/img/sub/',
    'train/good/img/t1.png',
  ]);
  const ds = openDataset(root);
  assert.equal(ds.info, DATASETS.Brain);
  assert.equal(ds.dir, root);
  const img = (split: string, cls: string, n: string) => join(root, split, cls, 'img', n);
  // Python's sorted(): code point order ('\uFF5E' < '\u{1F600}', unlike UTF-16 order).
  const order = ['10.png', '9.PNG', 'B.jpeg', '_x.tif', 'a.webp', 'b.png', '\uFF5E.png', '\u{1F600}.png'];
  assert.deepEqual(
    ds.test.normals,
    order.map((n) => img('test', 'good', n)),
  );
  assert.deepEqual(
    ds.test.abnormals,
    ['y.BMP', 'z.png'].map((n) => img('test', 'Ungood', n)),
  );
  assert.deepEqual(
    ds.valid.normals,
    ['n1.png', 'n2.png'].map((n) => img('valid', 'good', n)),
  );
  assert.deepEqual(
    ds.valid.abnormals,
    ['img_u2.png', 'u1.png'].map((n) => img('valid', 'Ungood', n)),
  );
  assert.deepEqual(
    [...ds.valid.masks],
    ['img_u2.png', 'u1.png'].map((n) => [img('valid', 'Ungood', n), join(root, 'valid', 'Ungood', 'anomaly_mask', n)]),
  );
  assert.equal(ds.test.masks.get(img('test', 'Ungood', 'y.BMP')), join(root, 'test', 'Ungood', 'anomaly_mask', 'y.BMP'));
  const items = orderedItems(ds.test);
  assert.deepEqual(
    items.map((i) => i.label),
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
  );
  assert.equal(items[0].mask, null);
  assert.equal(items[9].mask, join(root, 'test', 'Ungood', 'anomaly_mask', 'z.png'));
});

test("BMAD's AC-only layout: images directly in good/ and Ungood/, train/ ignored", (t) => {
  const base = tempRoot('flat');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'Histopathology_AD');
  makeTree(root, [
    'train/good/0001.png',
    'valid/good/2.png',
    'valid/good/1.png',
    'valid/Ungood/5.png',
    'test/good/3.png',
    'test/Ungood/4.png',
    'test/Ungood/6.jpg',
  ]);
  const ds = openDataset(root);
  assert.equal(ds.info.task, 'AC');
  assert.deepEqual(ds.valid.normals, [join(root, 'valid/good/1.png'), join(root, 'valid/good/2.png')]);
  assert.deepEqual(ds.test.abnormals, [join(root, 'test/Ungood/4.png'), join(root, 'test/Ungood/6.jpg')]);
  assert.equal(ds.test.masks.size, 0);
  assert.equal(openBmadDataset(base, 'Histopathology').test.normals[0], join(root, 'test/good/3.png'));
});

test('AC-only sets in the MVFA layout ignore any anomaly_mask folder', (t) => {
  const root = join(tempRoot('chest'), 'Chest_AD');
  t.after(() => rmSync(resolve(root, '..'), { recursive: true, force: true }));
  makeTree(root, [...mvfaSplit('valid', ['n.png'], ['a.png'], false), ...mvfaSplit('test', ['n.png'], ['a.png'], false)]);
  const ds = openDataset(root);
  assert.equal(ds.test.masks.size, 0);
  assert.deepEqual(ds.test.abnormals, [join(root, 'test/Ungood/img/a.png')]);
});

test('errors name the offending path', (t) => {
  const base = tempRoot('err');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const full = [...mvfaSplit('valid', ['n.png'], ['a.png', 'b.png']), ...mvfaSplit('test', ['n.png'], ['a.png'])];
  let k = 0;
  const make = (files: string[], folder = 'Liver_AD'): string => {
    const root = join(base, String(k++), folder);
    makeTree(root, files);
    return root;
  };

  let root = make(full.filter((f) => !f.startsWith('valid/')));
  throwsDataset(() => openDataset(root), 'missing split folder', join(root, 'valid'));

  root = make(full.filter((f) => f !== 'valid/Ungood/anomaly_mask/b.png'));
  throwsDataset(() => openDataset(root), `missing mask ${join(root, 'valid/Ungood/anomaly_mask/b.png')}`, join(root, 'valid/Ungood/img/b.png'));

  root = make([...full, 'test/Ungood/anomaly_mask/orphan.png']);
  throwsDataset(() => openDataset(root), 'mask without an image', join(root, 'test/Ungood/anomaly_mask/orphan.png'));

  root = make(full.filter((f) => !f.startsWith('test/Ungood/anomaly_mask/')));
  throwsDataset(() => openDataset(root), 'missing mask folder', join(root, 'test/Ungood/anomaly_mask'));

  root = make(full.filter((f) => !f.startsWith('test/good/')));
  throwsDataset(() => openDataset(root), 'missing folder', join(root, 'test/good'));

  root = make([...full.filter((f) => !f.startsWith('test/good/')), 'test/good/img/', 'test/good/img/readme.txt']);
  throwsDataset(() => openDataset(root), 'no images in', join(root, 'test/good/img'));

  root = make([...full, 'test/good/stray.png']);
  throwsDataset(() => openDataset(root), 'ambiguous layout', join(root, 'test/good/stray.png'));

  root = make(full, 'Other_AD');
  throwsDataset(() => openDataset(root), 'organ', root);

  throwsDataset(() => openDataset(join(base, 'nope_AD')), 'missing dataset folder', join(base, 'nope_AD'));
  throwsDataset(() => listImageNames(join(base, 'nothing')), join(base, 'nothing'));
});

test('generic folders: organ from the caller, task inferred from anomaly_mask', (t) => {
  const base = tempRoot('gen');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const withMasks = join(base, 'Foo_AD');
  makeTree(withMasks, [...mvfaSplit('valid', ['n.png'], ['a.png']), ...mvfaSplit('test', ['n.png'], ['a.png'])]);
  const noMasks = join(base, 'Bar_AD');
  makeTree(noMasks, [...mvfaSplit('valid', ['n.png'], ['a.png'], false), ...mvfaSplit('test', ['n.png'], ['a.png'], false)]);
  assert.equal(inferTask(withMasks), 'AC+AS');
  assert.equal(inferTask(noMasks), 'AC');
  const a = openDataset(withMasks, { organ: 'foo' });
  assert.deepEqual({ ...a.info }, { key: 'Foo', classIndex: null, task: 'AC+AS', organ: 'foo', folder: 'Foo_AD' });
  assert.equal(a.test.masks.size, 1);
  const b = openDataset(withMasks, { organ: 'foo', task: 'AC' });
  assert.equal(b.test.masks.size, 0);
  assert.equal(openDataset(noMasks, { organ: 'bar' }).info.task, 'AC');
  // An AC+AS task forced on a folder without masks is an error, not a silent skip.
  throwsDataset(() => openDataset(noMasks, { organ: 'bar', task: 'AC+AS' }), join(noMasks, 'valid/Ungood/anomaly_mask'));
});

test('compareCodePoints', () => {
  assert.equal(compareCodePoints('a', 'a'), 0);
  assert.equal(compareCodePoints('a', 'ab'), -1);
  assert.equal(compareCodePoints('B', 'a'), -1);
  assert.equal(compareCodePoints('\u{1F600}', '\uFF5E'), 1);
});

test('bundled demo BUSI: counts 2/2/20/20, masks paired by name', () => {
  const ds = openDataset(BUSI, { organ: 'breast ultrasound' });
  assert.equal(ds.info.task, 'AC+AS');
  assert.equal(ds.info.key, 'BUSI_demo');
  assert.equal(ds.valid.normals.length, 2);
  assert.equal(ds.valid.abnormals.length, 2);
  assert.equal(ds.test.normals.length, 20);
  assert.equal(ds.test.abnormals.length, 20);
  assert.equal(ds.valid.masks.size, 2);
  assert.equal(ds.test.masks.size, 20);
  for (const split of [ds.valid, ds.test]) {
    for (const [img, mask] of split.masks) {
      assert.equal(mask, img.replace('/Ungood/img/', '/Ungood/anomaly_mask/'));
    }
    const names = split.normals.map((p) => basename(p));
    assert.deepEqual(names, [...names].sort());
  }
  assert.deepEqual(
    ds.valid.normals.map((p) => basename(p)),
    ['busi_0147.png', 'busi_0464.png'],
  );
  assert.equal(ds.test.normals[0], join(BUSI, 'test/good/img/busi_0023.png'));
  const items = orderedItems(ds.test);
  assert.equal(items.length, 40);
  assert.equal(items.filter((i) => i.label === 0).length, 20);
  assert.ok(items.slice(0, 20).every((i) => i.label === 0 && i.mask === null));
  assert.ok(items.slice(20).every((i) => i.label === 1 && i.mask !== null));
  assert.equal(scanSplit(BUSI, 'valid', 'AC').masks.size, 0);
});
