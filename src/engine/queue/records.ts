// What a worker stores per input file, and how `queue collect` turns the stored records into `results.json`
// (the schema of `mvfa predict --out`) and the dump's `scores.json`.
import { type FailureRow, type ResultRow, type ResultsDocument } from '../merge.ts';
import { type ModelSpec } from './jobs.ts';
import { describeRule } from '../../mvfa/fusion.ts';
import { type VolumeSummary } from '../score-files.ts';

/** The model that scored a file, as results.json records it. */
export interface RecordModel {
  organ: string | null;
  task: string;
  /** Source of the stored calibration; null: the run-level rule applies (collect fuses the union). */
  calibration: string | null;
}

/** The outcome of one input file (all slices of a volume). */
export interface FileRecord {
  model?: RecordModel;
  rows: ResultRow[];
  volume?: VolumeSummary;
  /** Entries of the dump's scores.json (stem → raw values), when the job has a dump folder. */
  dump?: Record<string, Record<string, number>>;
  /** Slices that failed while others of the file were scored. */
  failures: FailureRow[];
}

/** Scores input files with one model: the prediction path of `mvfa predict`, file by file. */
export interface FileScorer {
  /** Scores one file; writes its heatmaps into `out` and raw maps into `dump` when given. Throws for a file it cannot read. */
  scoreFile(file: string, dirs: { out?: string; dump?: string }): Promise<FileRecord>;
  release(): Promise<void>;
}

export type OpenScorer = (spec: ModelSpec) => Promise<FileScorer>;

/** results.json of a job, rows in the order of its sorted input list; files neither scored nor failed are listed in `missing`. */
export function assembleResults(
  head: Record<string, unknown>,
  files: readonly string[],
  records: ReadonlyMap<string, string>,
  failures: ReadonlyMap<string, string>,
): { doc: ResultsDocument; dump: Record<string, Record<string, number>>; missing: string[]; model: RecordModel | null } {
  const results: ResultRow[] = [];
  const volumes: Record<string, VolumeSummary> = {};
  const fails: FailureRow[] = [];
  const dump: Record<string, Record<string, number>> = {};
  const missing: string[] = [];
  let model: RecordModel | null = null;
  for (const f of files) {
    const raw = records.get(f);
    if (raw !== undefined) {
      const r = JSON.parse(raw) as FileRecord;
      model ??= r.model ?? null;
      results.push(...r.rows);
      if (r.volume) volumes[f] = r.volume;
      Object.assign(dump, r.dump ?? {});
      fails.push(...r.failures);
      continue;
    }
    const failed = failures.get(f);
    if (failed !== undefined) fails.push({ input: f, reason: failed });
    else missing.push(f);
  }
  const rule = model?.calibration ? { kind: 'calibration' as const, source: model.calibration } : null;
  return {
    doc: {
      ...head,
      organ: model?.organ ?? head.organ ?? null,
      task: model?.task ?? null,
      rule: rule && { ...rule, description: describeRule(rule) },
      results,
      volumes,
      failures: fails,
    },
    dump,
    missing,
    model,
  };
}
