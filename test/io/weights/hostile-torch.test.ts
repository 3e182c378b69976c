// #12 holes 4 and 5: PyTorch files whose views would materialise far more than they store, and TorchScript code
// that made the class-declaration reader backtrack. Every input is built here, byte by byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeTorchStateDict } from '../../../src/io/weights/torch-file.ts';
import { parseNames, parseScriptCode, type ScriptClassInfo } from '../../../src/io/weights/torchscript-code.ts';
import * as B from '../hostile-builders.ts';
import { runHostile } from '../hostile-run.ts';

test('hole 4: 1000 expanded views over a 4-byte storage are refused once copies outgrow the storage', { timeout: 120_000 }, (t) => {
  // Before: every view was materialised (8 views: 1.75 s and 512 MB; 32 views: 7.8 s and 2.1 GB).
  runHostile(t, 'torch-many-views', {
    error:
      /^WeightFileError: \S*views\.pt: storage 0: strided tensor views would copy 134217728 bytes, more than the 4 bytes of storage they view \(\+67108864\)$/,
    maxSeconds: 20,
    maxRssMB: 600,
  });
});

test('hole 4: contiguous views share their storage; strided views are still copied exactly', async () => {
  const views = [
    { key: 'whole', offset: 0, size: [4, 6], stride: [6, 1] },
    { key: 'tail', offset: 6, size: [3, 6], stride: [6, 1] },
    { key: 'transposed', offset: 0, size: [6, 4], stride: [1, 6] },
  ];
  const sd = await decodeTorchStateDict(B.torchViewsArchive(24, views), 'views.pt');
  const whole = sd.get('whole')!;
  const tail = sd.get('tail')!;
  const tr = sd.get('transposed')!;
  assert.deepEqual(
    [whole.shape, tail.shape, tr.shape],
    [
      [4, 6],
      [3, 6],
      [6, 4],
    ],
  );
  assert.equal(tail.data.buffer, whole.data.buffer, 'the offset view shares the storage');
  assert.equal(tail.data.byteOffset - whole.data.byteOffset, 6 * 4);
  assert.notEqual(tr.data.buffer, whole.data.buffer, 'the transposed view is a copy');
  // The storage holds zeros here; the layouts are checked on the real files in torch-file.test.ts.
  assert.equal(tr.data.length, 24);
});

test('hole 5: TorchScript list literals are scanned in linear time', { timeout: 120_000 }, (t) => {
  // Before: a quadratic regular expression (8 KB: 17 ms, 32 KB: 231 ms, ×4 per doubling: 1 MB about 4 min).
  runHostile(t, 'torchscript-redos', { error: null, result: '0 parameters', maxSeconds: 20, maxRssMB: 600 });
  runHostile(t, 'torchscript-code-size', {
    error: /^WeightFileError: \S*script\.pt: archive\/code\/__torch__\/m\.py: TorchScript code file of 5242920 bytes is larger than the 4194304 accepted$/,
    maxSeconds: 20,
    maxRssMB: 600,
  });
});

test('hole 5: the linear scanner reads the names the regular expression read', () => {
  assert.deepEqual(parseNames(`"weight", "bias"`), ['weight', 'bias']);
  assert.deepEqual(parseNames(`'a', "b\\"c", 'd\\'e', "f\\\\"`), ['a', 'b"c', "d'e", 'f\\']);
  assert.deepEqual(parseNames(''), []);
  assert.deepEqual(parseNames(`"ok", "unterminated`), ['ok']);
  const classes = new Map<string, ScriptClassInfo>();
  parseScriptCode('__torch__/m', 'class Lin(Module):\n  __parameters__ = ["weight", "bias", ]\n  __buffers__ = ["running_mean", ]\n', classes);
  assert.deepEqual(classes.get('__torch__.m.Lin'), { isModule: true, parameters: ['weight', 'bias'], buffers: ['running_mean'] });
});
