// Small protocol options (#10): per-epoch training progress, and the organ of a dataset folder that is not a BMAD set
// (--organ for the target, organ.txt in any dataset folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { epochStepper } from '../../src/engine/epoch-progress.ts';
import { ORGAN_FILE, organFromFile, resolveDataset } from '../../src/engine/protocols.ts';
import { REPO } from '../support/fixtures.ts';

test('training progress: one bar per epoch, counting 1..steps of that epoch, labelled with the running epoch', () => {
  const seen: [string, number, number][] = [];
  const onStep = epochStepper('run 1: train', 2, (l, d, t) => seen.push([l, d, t]));
  // 2 epochs of 3 steps (the trainer numbers steps 0..5 across epochs)
  for (let step = 0; step < 6; step++) onStep({ epoch: Math.floor(step / 3) }, 3);
  assert.deepEqual(seen, [
    ['run 1: train epoch 1/2', 1, 3],
    ['run 1: train epoch 1/2', 2, 3],
    ['run 1: train epoch 1/2', 3, 3],
    ['run 1: train epoch 2/2', 1, 3],
    ['run 1: train epoch 2/2', 2, 3],
    ['run 1: train epoch 2/2', 3, 3],
  ]);
  // a resumed run starts at its first remaining epoch
  const resumed: string[] = [];
  const r = epochStepper('train', 3, (l, d, t) => resumed.push(`${l} ${d}/${t}`));
  r({ epoch: 2 }, 2);
  r({ epoch: 2 }, 2);
  assert.deepEqual(resumed, ['train epoch 3/3 1/2', 'train epoch 3/3 2/2']);
});

function tree(root: string): void {
  for (const f of ['valid/good/img/n1.png', 'valid/Ungood/img/a1.png', 'test/good/img/n2.png', 'test/Ungood/img/a2.png']) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), 'x');
  }
}

test('the organ of a non-BMAD folder: --organ, else organ.txt, else an error that says how', (t) => {
  const data = mkdtempSync(join(tmpdir(), 'mvfa-organ-'));
  t.after(() => rmSync(data, { recursive: true, force: true }));
  tree(join(data, 'Breast_AD'));
  assert.throws(
    () => resolveDataset(data, 'Breast_AD'),
    (e: Error) =>
      e.message.includes('an organ name is required') &&
      e.message.includes(`pass --organ NAME, or write the organ name in ${join(data, 'Breast_AD', ORGAN_FILE)}`),
  );
  assert.equal(resolveDataset(data, 'Breast_AD', 'breast ultrasound').info.organ, 'breast ultrasound');
  writeFileSync(join(data, 'Breast_AD', ORGAN_FILE), '\n  breast ultrasound  \r\nignored\n');
  assert.equal(organFromFile(join(data, 'Breast_AD')), 'breast ultrasound');
  assert.equal(resolveDataset(data, 'Breast_AD').info.organ, 'breast ultrasound');
  assert.equal(resolveDataset(data, 'Breast_AD', 'skin').info.organ, 'skin', 'the option wins over the file');
  assert.equal(organFromFile(data), undefined);
  writeFileSync(join(data, 'Breast_AD', ORGAN_FILE), ' \n');
  assert.throws(() => resolveDataset(data, 'Breast_AD'), /organ\.txt is empty/);
  // a BMAD set keeps its official organ unless told otherwise
  tree(join(data, 'Liver_AD'));
  for (const m of ['valid/Ungood/anomaly_mask/a1.png', 'test/Ungood/anomaly_mask/a2.png']) {
    mkdirSync(join(data, 'Liver_AD', m, '..'), { recursive: true });
    writeFileSync(join(data, 'Liver_AD', m), 'x');
  }
  assert.equal(resolveDataset(data, 'Liver').info.organ, resolveDataset(data, 'Liver_AD').info.organ);
  writeFileSync(join(data, 'Liver_AD', ORGAN_FILE), 'liver CT\n');
  assert.equal(resolveDataset(data, 'Liver').info.organ, 'liver CT');
});

test('mvfa bench zero offers --organ', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/mvfa.js'), 'bench', 'zero', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /--organ <name>/);
  assert.match(r.stdout, /organ\.txt/);
});
