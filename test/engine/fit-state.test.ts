// The resumable training state against tampering and drift (#12 hole 12): a training file replaced under the same
// name, a damaged random-draw count (which used to replay up to 2^53 draws), damaged or mismatched levels and
// tensors. Every fault is refused before training starts, with the state file named; an intact state resumes.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { loadClip } from '../../src/clip/factory.ts';
import { type ClipModel } from '../../src/clip/model.ts';
import { type FitOptions, fitMvfa } from '../../src/engine/fit.ts';
import { openSafetensors, writeSafetensors } from '../../src/io/weights/safetensors.ts';
import { type HostTensor } from '../../src/io/weights/tensor.ts';
import { TINY_CLIP, writeTinyClip } from '../support/tiny-clip.ts';

let dir: string;
let clip: ClipModel;
let text: Float32Array;
/** A state saved after epoch 1 of 3 (the run was stopped there). */
let savedState: string;

async function image(path: string, seed: number): Promise<void> {
  const px = Buffer.from(Array.from({ length: 56 * 56 * 3 }, (_, i) => (i * (seed + 3) * 7 + seed * 31) % 256));
  await sharp(px, { raw: { width: 56, height: 56, channels: 3 } })
    .png()
    .toFile(path);
}

function fitOptions(out: string, extra: Partial<FitOptions> = {}): FitOptions {
  return {
    normalDir: join(dir, 'normal'),
    abnormalDir: join(dir, 'abnormal'),
    organ: 'test organ',
    epochs: 3,
    lr: 1e-3,
    augment: 'none',
    shuffle: true,
    seed: 5,
    levels: [1, 2],
    imageSize: 56,
    batchSize: 1,
    out,
    ...extra,
  };
}

class Stop extends Error {}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mvfa-fit-state-'));
  for (const sub of ['normal', 'abnormal']) mkdirSync(join(dir, sub));
  for (let i = 0; i < 3; i++) {
    await image(join(dir, 'normal', `n${i}.png`), i);
    await image(join(dir, 'abnormal', `a${i}.png`), 10 + i);
  }
  clip = await loadClip(await writeTinyClip(dir));
  text = new Float32Array(2 * TINY_CLIP.embed).map((_, i) => Math.sin(i + 1) / Math.sqrt(TINY_CLIP.embed / 2));
  const out = join(dir, 'first', 'adapters.safetensors');
  await assert.rejects(
    fitMvfa(
      clip,
      text,
      fitOptions(out, {
        onStage: (stage, done) => {
          if (stage === 'epoch' && done === 1) throw new Stop('stopped after epoch 1');
        },
      }),
    ),
    Stop,
  );
  savedState = `${out}.state`;
});
after(async () => {
  await clip?.release();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh output folder holding a copy of the saved state, with metadata changed by `edit`. */
async function stateCopy(name: string, edit: (meta: Record<string, string>, tensors: Map<string, HostTensor>) => void = () => {}): Promise<string> {
  const out = join(dir, name, 'adapters.safetensors');
  mkdirSync(join(dir, name));
  const f = await openSafetensors(savedState);
  const tensors = new Map<string, HostTensor>(f.keys().map((k) => [k, f.read(k)]));
  const meta = { ...(f.metadata ?? {}) };
  f.close();
  edit(meta, tensors);
  await writeSafetensors(`${out}.state`, tensors, meta);
  return out;
}

async function resumeFails(out: string, pattern: RegExp): Promise<number> {
  const t0 = performance.now();
  await assert.rejects(fitMvfa(clip, text, fitOptions(out, { resume: true })), (e: Error) => {
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(`${out}.state`), `the message names the state file: ${e.message}`);
    return true;
  });
  return performance.now() - t0;
}

test('an intact state resumes after epoch 1 and finishes the run', async () => {
  const out = await stateCopy('intact');
  const stages: string[] = [];
  const r = await fitMvfa(clip, text, fitOptions(out, { resume: true, onStage: (s, d) => stages.push(`${s}:${d}`) }));
  assert.ok(stages.includes('resume:1'), stages.join(' '));
  assert.deepEqual([...new Set(r.losses.map((l) => l.epoch))], [0, 1, 2]);
});

test('a training image replaced under the same name is noticed: the fingerprint covers the contents', async () => {
  const out = await stateCopy('replaced');
  const victim = join(dir, 'normal', 'n1.png');
  const keep = join(dir, 'n1.png.orig');
  copyFileSync(victim, keep);
  try {
    await image(victim, 99);
    await resumeFails(out, /saved with different data or settings; cannot resume/);
  } finally {
    copyFileSync(keep, victim);
  }
});

test('a huge rngDraws is refused at once instead of replaying that many draws', async () => {
  const out = await stateCopy('draws', (m) => (m.rngDraws = '9007199254740991'));
  const ms = await resumeFails(out, /records 9007199254740991 random draws, but 1 epochs make 5/);
  assert.ok(ms < 30_000, `refused in ${ms.toFixed(0)} ms`);
});

test('rngDraws and epochsDone that are not counts, or do not fit the run, are refused', async () => {
  for (const [key, value, pattern] of [
    ['rngDraws', '-1', /rngDraws must be a whole number/],
    ['rngDraws', '1e3', /rngDraws must be a whole number/],
    ['rngDraws', 'abc', /rngDraws must be a whole number/],
    ['rngDraws', '3', /records 3 random draws, but 1 epochs make 5/],
    ['epochsDone', '7', /7 epochs done, but this run has 3/],
    ['epochsDone', 'NaN', /epochsDone must be a whole number/],
  ] as const) {
    const out = await stateCopy(`${key}-${value}`, (m) => (m[key] = value));
    await resumeFails(out, pattern);
  }
});

test('levels that are malformed, or not the run\u2019s, and adapter tensors that do not match are refused', async () => {
  const cases: [string, (m: Record<string, string>, t: Map<string, HostTensor>) => void, RegExp][] = [
    ['nan', (m) => (m.levels = 'NaN'), /levels must be increasing block numbers/],
    ['huge', (m) => (m.levels = '1,99999999'), /levels must be increasing block numbers/],
    ['order', (m) => (m.levels = '2,1'), /levels must be increasing block numbers/],
    ['other', (m) => (m.levels = '1,3'), /saved for adapter levels 1,3, but this run uses 1,2/],
    ['fewer', (m) => (m.levels = '1'), /saved for adapter levels 1, but this run uses 1,2/],
    ['missing', (_m, t) => t.delete('det_adapters.1.fc2.0.weight'), /tensor det_adapters\.1\.fc2\.0\.weight is missing/],
    [
      'shape',
      (_m, t) => t.set('seg_adapters.1.fc1.0.weight', { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) }),
      /seg_adapters\.1\.fc1\.0\.weight has shape \[2, 3\]/,
    ],
    ['adam', (m) => (m.adamSteps = '{"seg":{"seg_fc1_9":1}}'), /optimiser state for an unknown parameter/],
  ];
  for (const [name, edit, pattern] of cases) {
    const out = await stateCopy(`levels-${name}`, edit);
    await resumeFails(out, pattern);
  }
});
