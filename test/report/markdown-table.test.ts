import { test } from 'node:test';
import assert from 'node:assert/strict';

import { markdownTable } from '../../src/report/markdown-table.ts';

test('paper-style table: | Dataset | AC | AS |, percent with two decimals, dash when not applicable', () => {
  const md = markdownTable([
    { dataset: 'BrainMRI', imageAuroc: 0.973, pixelAuroc: 0.97381 },
    { dataset: 'LiverCT', imageAuroc: 0.8117, pixelAuroc: 0.9986 },
    { dataset: 'ChestXray', imageAuroc: 0.8166 },
    { dataset: 'HIS', imageAuroc: 1, pixelAuroc: null },
    { dataset: 'none', imageAuroc: NaN },
  ]);
  assert.equal(
    md,
    [
      '| Dataset | AC | AS |',
      '| --- | ---: | ---: |',
      '| BrainMRI | 97.30 | 97.38 |',
      '| LiverCT | 81.17 | 99.86 |',
      '| ChestXray | 81.66 | – |',
      '| HIS | 100.00 | – |',
      '| none | – | – |',
      '',
    ].join('\n'),
  );
});

test('extra metric columns appear when present; explicit columns; cell escaping; range check', () => {
  const rows = [
    { dataset: 'a|b', imageAuroc: 0.5, pixelAuroc: 0.25, aupro: 0.125 },
    { dataset: 'c\nd', imageAuroc: 0.75, pixelMaxF1: 0.0001 },
  ];
  assert.equal(
    markdownTable(rows),
    [
      '| Dataset | AC | AS | max-F1 (pixel) | AUPRO |',
      '| --- | ---: | ---: | ---: | ---: |',
      '| a\\|b | 50.00 | 25.00 | – | 12.50 |',
      '| c d | 75.00 | – | 0.01 | – |',
      '',
    ].join('\n'),
  );
  assert.equal(markdownTable(rows, { columns: ['aupro'] }), '| Dataset | AUPRO |\n| --- | ---: |\n| a\\|b | 12.50 |\n| c d | – |\n');
  assert.equal(markdownTable([]), '| Dataset | AC | AS |\n| --- | ---: | ---: |\n');
  assert.throws(() => markdownTable([{ dataset: 'x', imageAuroc: 97.3 }]), /x: imageAuroc must be a fraction/);
});
