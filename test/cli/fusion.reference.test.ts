import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { openSafetensors } from '../../src/io/weights/safetensors.ts';
import { REPO } from '../support/fixtures.ts';
import { runPython } from '../support/python.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';
import { type Range, e2eRef, near, referenceTrainingSet, repoPath } from '../support/e2e.ts';
import { type CliResult, runMvfa } from '../support/cli.ts';

// Reference suite only (live Python): adapters really trained by `mvfa train`, then the stored calibration and every
// score `mvfa predict` prints are recomputed in numpy from the raw dumps (scripts/fixtures/fusion_from_dumps.py).
const dir = mkdtempSync(join(tmpdir(), 'mvfa-fusion-ref-'));
let clip: string;
let set: { normal: string; abnormal: string; masks: string };

function mvfa(args: string[]): CliResult {
  return runMvfa(args, join(dir, 'cache'));
}

before(async () => {
  clip = await writeTinyClip(dir);
  set = referenceTrainingSet(dir);
});

for (const task of ['AC+AS', 'AC'] as const) {
  test(`${task}: stored calibration and predicted scores equal numpy on the dumps of trained adapters`, async (t) => {
    const tag = task === 'AC' ? 'ac' : 'acas';
    const adapters = join(dir, `${tag}.safetensors`);
    const masks = task === 'AC' ? [] : ['--masks', set.masks];
    const tr = mvfa([
      'train',
      '--clip',
      clip,
      '--organ',
      'breast ultrasound',
      '--normal',
      set.normal,
      '--abnormal',
      set.abnormal,
      ...masks,
      '--epochs',
      '2',
      '--augment',
      'none',
      '--levels',
      '1,2',
      '--image-size',
      '56',
      '--out',
      adapters,
      '--quiet',
    ]);
    assert.equal(tr.code, 0, tr.stderr);
    const f = await openSafetensors(adapters);
    const cal = JSON.parse(f.metadata!.calibration) as Record<string, Range> & { task: string };
    f.close();
    assert.equal(cal.task, task);
    const training = [...e2eRef().train.abnormals, ...e2eRef().train.normals].map(repoPath);
    const test = e2eRef().predict.map((p) => repoPath(p.image));
    const dump = join(dir, `dump-${tag}`);
    const p = mvfa([
      'predict',
      '--clip',
      clip,
      '--adapters',
      adapters,
      '--support',
      set.normal,
      '--support-augment',
      'none',
      '--dump',
      dump,
      '--json',
      '--quiet',
      ...training,
      ...test,
    ]);
    assert.equal(p.code, 0, p.stderr);
    const printed = (JSON.parse(p.stdout) as { results: { image: string; score: number }[] }).results;
    const stem = (x: string) => basename(x).replace(/\.png$/, '');
    const ref = JSON.parse(
      runPython(join(REPO, 'scripts/fixtures/fusion_from_dumps.py'), [
        dump,
        '--task',
        task,
        '--calibrate',
        training.map(stem).join(','),
        '--score',
        [...training, ...test].map(stem).join(','),
      ]),
    ) as { calibration: Record<string, Range>; scores: Record<string, number> };
    for (const [k, r] of Object.entries(ref.calibration)) {
      near(cal[k].min, r.min, 1e-6, `calibration ${k}.min`);
      near(cal[k].max, r.max, 1e-6, `calibration ${k}.max`);
    }
    let e = 0;
    for (const x of printed) e = Math.max(e, near(x.score, ref.scores[stem(x.image)], 1e-6, `${x.image}: score`));
    t.diagnostic(`${printed.length} scores vs numpy: max error ${e.toExponential(2)}`);
  });
}
