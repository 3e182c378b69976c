// `mvfa predict --shard I/N` + `mvfa merge` equal one unsharded `mvfa predict`, bit for bit (#13): with adapters that
// store no calibration (the official min–max over the run, re-fused over the union by merge) and with stored
// calibration; merge refuses missing, overlapping and incomplete shards before writing anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initAdapters } from '../../src/mvfa/adapters.ts';
import { saveAdapters } from '../../src/mvfa/checkpoint.ts';
import { REPO } from '../support/fixtures.ts';
import { writeTinyClip } from '../support/tiny-clip.ts';
import { type CliResult, runMvfa } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'mvfa-merge-'));
const demo = join(REPO, 'demo/BUSI_demo_AD');
const imgs = join(dir, 'imgs');
const support = join(dir, 'support');
let clip = '';

function mvfa(args: string[]): CliResult {
  return runMvfa(['--threads', '1', '--quiet', ...args], join(dir, 'cache'));
}

before(async () => {
  clip = await writeTinyClip(dir);
  const ad = initAdapters(128, 32, [1, 2], 9);
  await saveAdapters(join(dir, 'plain.safetensors'), { adapters: ad, info: { organ: 'Breast', imageSize: '224' } });
  const r = { min: 0, max: 3 };
  await saveAdapters(join(dir, 'calibrated.safetensors'), {
    adapters: ad,
    info: { organ: 'Breast', imageSize: '224' },
    calibration: { task: 'AC+AS', zeroSeg: r, fewSeg: { min: 0, max: 1 }, zeroDet: r, fewDet: null, source: 'test' },
  });
  mkdirSync(imgs);
  mkdirSync(support);
  for (const sub of ['good/img', 'Ungood/img'])
    for (const f of readdirSync(join(demo, 'test', sub))
      .sort()
      .slice(0, 3))
      copyFileSync(join(demo, 'test', sub, f), join(imgs, f));
  for (const f of readdirSync(join(demo, 'valid/good/img')).sort().slice(0, 2)) copyFileSync(join(demo, 'valid/good/img', f), join(support, f));
  // A 10-slice volume: its slices stay in one shard, and its volume maximum is recomputed over the union.
  copyFileSync(join(REPO, 'fixtures/medical/syn_int16_slope.nii.gz'), join(imgs, 'syn_int16_slope.nii.gz'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

function run(name: string, adapters: string, shards: number): { whole: string; parts: string[] } {
  const base = join(dir, name);
  const model = ['predict', '--clip', clip, '--adapters', join(dir, adapters), '--support', support, '--support-augment', 'none'];
  const w = mvfa([...model, '--out', join(base, 'whole'), '--dump', join(base, 'whole-dump'), imgs]);
  assert.equal(w.code, 0, w.stderr);
  const parts: string[] = [];
  for (let i = 1; i <= shards; i++) {
    const p = join(base, `shard${i}`);
    // The shards see the inputs in another order: the parts are fixed by the sorted list.
    const files = readdirSync(imgs)
      .reverse()
      .map((f) => join(imgs, f));
    const r = mvfa([...model, '--shard', `${i}/${shards}`, '--out', join(p, 'out'), '--dump', join(p, 'dump'), ...files]);
    assert.equal(r.code, 0, r.stderr);
    parts.push(p);
  }
  return { whole: base, parts };
}

/** A 1-D .npy file (written here by hand, not by the code under test). */
function npy(descr: '<f8', values: number[]): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${values.length},), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1;
  h.writeUInt16LE(header.length, 8);
  return Buffer.concat([h, Buffer.from(header, 'latin1'), Buffer.from(Float64Array.from(values).buffer)]);
}

function json(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function assertSameRun(whole: string, merged: string, mergedDump: string): void {
  const a = json(join(whole, 'whole', 'results.json'));
  const b = json(join(merged, 'results.json'));
  assert.deepEqual(b, a); // rule, scores (bit-identical through JSON), volumes, failures
  assert.deepEqual(json(join(mergedDump, 'scores.json')), json(join(whole, 'whole-dump', 'scores.json')));
  const files = (d: string) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.npy') || f.endsWith('.png'))
      .sort();
  assert.deepEqual(files(mergedDump), files(join(whole, 'whole-dump')));
  assert.deepEqual(
    files(merged).filter((f) => f.endsWith('.png')),
    files(join(whole, 'whole')),
  );
  for (const f of files(mergedDump)) assert.ok(readFileSync(join(mergedDump, f)).equals(readFileSync(join(whole, 'whole-dump', f))), f);
  for (const f of files(merged).filter((n) => n.endsWith('.png'))) assert.ok(readFileSync(join(merged, f)).equals(readFileSync(join(whole, 'whole', f))), f);
}

test('no stored calibration: 3 shards merged = the unsharded run (min–max over the union), heatmaps and dumps included', (t) => {
  const { whole, parts } = run('plain', 'plain.safetensors', 3);
  const shardScores = parts.flatMap((p) => (json(join(p, 'out', 'results.json')).results as { score: number }[]).map((r) => r.score));
  const wholeScores = (json(join(whole, 'whole', 'results.json')).results as { score: number }[]).map((r) => r.score);
  // The shards alone are fused over themselves: their scores are provisional and differ from the run's.
  assert.notDeepEqual(shardScores, wholeScores);
  const merged = join(whole, 'merged');
  const r = mvfa(['merge', '--json', '--out', merged, '--dump', join(merged, 'dump'), ...parts.flatMap((p) => [join(p, 'out'), join(p, 'dump')])]);
  assert.equal(r.code, 0, r.stderr);
  const rawMaps = readdirSync(join(whole, 'whole-dump')).filter((f) => f.endsWith('.npy')).length;
  assert.deepEqual(JSON.parse(r.stdout), { shards: 3, files: 7, results: 16, failures: 0, copied: rawMaps });
  assertSameRun(whole, merged, join(merged, 'dump'));
  t.diagnostic(`unsharded vs merged scores: ${wholeScores.map((s) => s.toFixed(6)).join(' ')} (identical)`);
  const vol = (json(join(merged, 'results.json')).volumes as Record<string, { slices: number }>)[join(imgs, 'syn_int16_slope.nii.gz')];
  assert.equal(vol.slices, 10);
  // The merged scores feed `mvfa metrics`: AUROC of the 6 BUSI images (3 normal, then 3 abnormal in sorted order)
  // from merged/scores.npy, against the pairwise count over results.json.
  const busi = wholeScores.slice(0, 6);
  let wins = 0;
  for (const a of busi.slice(3)) for (const n of busi.slice(0, 3)) wins += a > n ? 1 : a === n ? 0.5 : 0;
  const labels = join(whole, 'labels.npy');
  const scoresNpy = join(whole, 'scores6.npy');
  writeFileSync(labels, npy('<f8', [0, 0, 0, 1, 1, 1]));
  const all = readFileSync(join(merged, 'scores.npy'));
  writeFileSync(
    scoresNpy,
    npy('<f8', Array.from(new Float64Array(all.buffer.slice(all.byteOffset + all.length - 16 * 8, all.byteOffset + all.length)).slice(0, 6))),
  );
  const m = mvfa(['metrics', 'auroc', '--scores', scoresNpy, '--labels', labels]);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(JSON.parse(m.stdout).auroc, wins / 9);
  // A merged folder is not overwritten.
  const again = mvfa(['merge', '--out', merged, '--dump', join(merged, 'dump'), ...parts.flatMap((p) => [join(p, 'out'), join(p, 'dump')])]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists/);
  // Without the dump folders the run-level rule cannot be recomputed: refused.
  const noDump = mvfa(['merge', '--out', join(whole, 'nodump'), ...parts.map((p) => join(p, 'out'))]);
  assert.equal(noDump.code, 2);
  assert.match(noDump.stderr, /--dump folder/);
  assert.ok(!existsSync(join(whole, 'nodump', 'results.json')));
});

test('stored calibration: 2 shards merged = the unsharded run; missing and overlapping shards refused', () => {
  const { whole, parts } = run('calibrated', 'calibrated.safetensors', 2);
  const merged = join(whole, 'merged');
  const r = mvfa(['merge', '--out', merged, '--dump', join(merged, 'dump'), ...parts.flatMap((p) => [join(p, 'out'), join(p, 'dump')])]);
  assert.equal(r.code, 0, r.stderr);
  assertSameRun(whole, merged, join(merged, 'dump'));

  const missing = mvfa(['merge', '--out', join(whole, 'm1'), join(parts[0], 'out')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing result shard 2\/2/);
  const twice = mvfa(['merge', '--out', join(whole, 'm2'), join(parts[0], 'out'), join(parts[1], 'out'), join(parts[1], 'out')]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /overlapping shards: .*shard2.* shard 2\/2/);
  const notShard = mvfa(['merge', '--out', join(whole, 'm3'), join(whole, 'whole')]);
  assert.equal(notShard.code, 2);
  assert.match(notShard.stderr, /shard\.json: missing/);
  for (const m of ['m1', 'm2', 'm3']) assert.ok(!existsSync(join(whole, m, 'results.json')));
});
