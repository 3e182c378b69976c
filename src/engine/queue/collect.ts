// `mvfa queue collect`: a job's records → results.json in the schema of `mvfa predict --out`, with its failures.
// Adapters without stored calibration: the workers stored raw values only; the official rule (min–max over the run)
// is applied here once over every image, from the raw maps the workers wrote into the job's dump folder.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Redis } from 'ioredis';
import { type ResultsDocument } from '../merge.ts';
import { type DumpEntry, refuseOverRun, writeRefusedHeatmaps } from '../merge-rule.ts';
import { QueueError } from './connection.ts';
import { failedTaskFiles, jobKey, readFiles, readHash, readMeta } from './jobs.ts';
import { assembleResults } from './records.ts';

export interface Collected {
  doc: ResultsDocument;
  /** Input files neither scored nor failed yet. */
  missing: string[];
}

/** Reads a job's results; with `partial` false, refuses a job that is not finished. Writes the dump's scores.json and run-rule heatmaps. */
export async function collectJob(redis: Redis, job: string, partial: boolean): Promise<Collected> {
  const meta = await readMeta(redis, job);
  const [files, records, failures] = await Promise.all([
    readFiles(redis, job),
    readHash(redis, jobKey(job, 'results')),
    readHash(redis, jobKey(job, 'failures')),
  ]);
  for (const [f, reason] of await failedTaskFiles(redis, job)) if (!records.has(f) && !failures.has(f)) failures.set(f, reason);
  const { doc, dump, missing, model } = assembleResults({ adapters: meta.model.adapters, organ: meta.model.organ ?? null }, files, records, failures);
  if (missing.length && !partial)
    throw new QueueError(
      `job ${job} is not finished: ${missing.length} image(s) not scored yet (see \`mvfa queue status\`); wait for the workers or pass --partial`,
    );
  const scoresPath = meta.dump ? join(meta.dump, 'scores.json') : null;
  if (scoresPath && existsSync(scoresPath)) throw new QueueError(`${scoresPath} already exists (collected before?); remove it to collect again`);
  let out = doc;
  if (model && !model.calibration && doc.results.length) {
    if (!meta.dump)
      throw new QueueError(
        `job ${job}: the adapters store no calibration, so scores need the official min–max over the whole run, from raw maps; submit the job with --dump DIR on shared storage`,
      );
    const entries: DumpEntry[] = Object.entries(dump).map(([stem, values]) => ({ dir: meta.dump!, stem, values }));
    const r = await refuseOverRun({ ...doc, task: model.task }, entries);
    out = r.doc;
    entries.forEach((e, i) => (dump[e.stem] = { ...e.values, score: r.predictions[i].score }));
    if (meta.out) await writeRefusedHeatmaps(out, entries, r.predictions, meta.out);
  }
  if (scoresPath && Object.keys(dump).length) await writeFile(scoresPath, `${JSON.stringify(dump, null, 1)}\n`, { flag: 'wx' });
  return { doc: out, missing };
}
