// The run-level rule when shards are joined (#13): without stored calibration, the official fusion is min–max over
// every image of the run, so each shard's scores (fused over the shard alone) are provisional. `mvfa merge` and
// `mvfa queue collect` rebuild the raw results of the union from the dump folders (the per-image raw values, which
// do not depend on how the run was split) and apply the Engine's fusion to them once.
import { basename, join } from 'node:path';
import { existsSync } from 'node:fs';
import { readNpy } from '../io/weights/npy.ts';
import { toFloat32 } from '../io/weights/tensor.ts';
import { type BranchScores, type Task, describeRule } from '../mvfa/fusion.ts';
import { type ResultsDocument } from './merge.ts';
import { type Prediction, fuseResults } from './predict.ts';
import { OutputWriter, revisitImages } from './score-files.ts';
import { RefusedInputError } from '../util/errors.ts';

/** Refused input: exit code 2. */
export class RunRuleError extends RefusedInputError {
  override readonly name = 'RunRuleError';
}

/** Whether a results document's scores depend on the whole run (min–max over its images). */
export function isRunLevel(doc: ResultsDocument): boolean {
  return (doc.rule as { kind?: string } | null | undefined)?.kind === 'run-min-max';
}

/** A dump entry: where an image's raw maps are and its scalar raw values. */
export interface DumpEntry {
  dir: string;
  stem: string;
  values: Record<string, number>;
}

async function map(dir: string, stem: string, branch: string): Promise<Float32Array | undefined> {
  const p = join(dir, `${stem}.${branch}.npy`);
  return existsSync(p) ? toFloat32(await readNpy(p)) : undefined;
}

/**
 * Re-fuses a joined document over all its rows. `entries` are the dump entries in the order of `doc.results`
 * (each shard's scores.json in its results' order); a row whose raw values differ from its entry is refused.
 */
export async function refuseOverRun(doc: ResultsDocument, entries: readonly DumpEntry[]): Promise<{ doc: ResultsDocument; predictions: Prediction[] }> {
  if (entries.length !== doc.results.length)
    throw new RunRuleError(`the dump folders hold ${entries.length} images but the results ${doc.results.length}; give the --dump folder of every shard`);
  const raws: BranchScores[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const row = doc.results[i];
    if (row.zero_det !== e.values.zero_det)
      throw new RunRuleError(
        `${row.image}: its raw values in ${join(e.dir, 'scores.json')} (${e.stem}) differ from results.json; dump and results folders must come from the same shards`,
      );
    const zeroSeg = await map(e.dir, e.stem, 'zero_seg');
    if (!zeroSeg) throw new RunRuleError(`${join(e.dir, `${e.stem}.zero_seg.npy`)}: missing; the run-level rule needs every image's raw maps`);
    raws.push({ zeroSeg, zeroDet: e.values.zero_det, fewSeg: await map(e.dir, e.stem, 'few_seg'), fewDet: await map(e.dir, e.stem, 'few_det') });
  }
  const task = doc.task === 'AC' ? 'AC' : ('AC+AS' as Task);
  const { rule, predictions } = fuseResults(raws, { task, calibration: null });
  const results = doc.results.map((r, i) => ({ ...r, score: predictions[i].score }));
  const volumes: Record<string, { slices: number; max: number; argmax: string }> = {};
  for (const r of results) {
    const hash = r.image.indexOf('#');
    if (hash < 0 || !(r.image.slice(0, hash) in (doc.volumes ?? {}))) continue;
    const file = r.image.slice(0, hash);
    const v = (volumes[file] ??= { slices: 0, max: -Infinity, argmax: '' });
    v.slices++;
    if (r.score > v.max) {
      v.max = r.score;
      v.argmax = `${basename(file)}${r.image.slice(hash)}`;
    }
  }
  return { doc: { ...doc, rule: { ...rule, description: describeRule(rule) }, results, volumes }, predictions };
}

/** Heatmaps of re-fused rows (`<stem>.png` in `out`), the images decoded again one file at a time. */
export async function writeRefusedHeatmaps(
  doc: ResultsDocument,
  entries: readonly DumpEntry[],
  predictions: readonly Prediction[],
  out: string,
): Promise<void> {
  const writer = new OutputWriter({ out });
  for (let i = 0; i < doc.results.length;) {
    const file = fileOf(doc.results[i].image);
    let j = i;
    while (j < doc.results.length && fileOf(doc.results[j].image) === file) j++;
    const names = doc.results.slice(i, j).map((r) => `${basename(file)}${r.image.slice(file.length)}`);
    const first = i;
    await revisitImages(file, names, {}, (k, raster) => writer.heatmap(entries[first + k].stem, raster, predictions[first + k].map));
    i = j;
  }
}

/** The input file of a result row (`file#slice` → `file`). */
function fileOf(image: string): string {
  const hash = image.indexOf('#');
  return hash < 0 ? image : image.slice(0, hash);
}
