// `mvfa predict`: anomaly scores and heatmaps for images with trained adapters (optionally with a few-shot memory
// bank), through the Engine's one prediction path. With stored calibration each image is scored alone; without
// (an official .pth), the official rule applies: min–max over the images of this run.
import { type Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AugmentMode } from '../../data/training-set.ts';
import { type FusionRule, type Task, describeRule } from '../../mvfa/fusion.ts';
import { type GlobalOptions, FailureLog, UsageError, applyGlobal, expandInputs, log, progress } from '../common.ts';
import { modelOptions, openEngine } from '../model-loading.ts';
import { type ShardSpec, selectShard, writeShardManifest } from '../../engine/shard.ts';
import { parseWindow } from '../../engine/output-names.ts';
import { RunFusion, fuseScored } from '../../engine/run-fusion.ts';
import {
  type ScoredImage,
  type VolumeSummary,
  OutputWriter,
  addToVolume,
  dumpEntry,
  resultRow,
  scoreFile,
  windowLoadOptions,
} from '../../engine/score-files.ts';
import { parseShardOption } from './merge.ts';

interface PredictOpts extends GlobalOptions {
  clip?: string;
  adapters: string;
  organ?: string;
  support?: string;
  supportAugment: string;
  levels?: number[];
  imageSize?: number;
  task?: string;
  dump?: string;
  out?: string;
  activation?: string;
  window?: string;
  shard?: ShardSpec;
}

export function registerPredict(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  modelOptions(
    program
      .command('predict')
      .description('score images: zero-shot (text) branch, plus the few-shot memory bank with --support')
      .option('--clip <path>', 'CLIP weights; default: the downloaded ViT-L/14-336')
      .requiredOption('--adapters <path>', 'trained adapters (.safetensors from `mvfa train`, or an official .pth)'),
  )
    .option('--task <AC+AS|AC>', 'score from the seg map (AC+AS) or the det head (AC), for adapters that store no task (default AC+AS)')
    .option('--dump <dir>', 'write raw maps: <stem>.zero_seg.npy, <stem>.few_seg.npy, <stem>.few_det.npy and scores.json')
    .option('--out <dir>', 'write results.json (scores and the fusion rule used) and heatmap overlays <stem>.png')
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .option('--window <auto|minmax|C,W>', "display window for DICOM and NIfTI (default: the file's window, or 0.5–99.5 percentiles)")
    .option('--shard <I/N>', 'score part I of N of the sorted input list (Slurm arrays, Indexed Jobs); join with `mvfa merge`', parseShardOption)
    .argument('<images...>', 'image files or folders (PNG, JPEG, TIFF, BMP, WebP, DICOM, NIfTI volumes: every axial slice is scored)')
    .addHelpText(
      'after',
      '\nWithout calibration stored with the adapters (official .pth files), scores and heatmaps use the official rule:\n' +
        'min–max over the images of the run, so score the images together.\n' +
        '\nExamples:\n  mvfa predict --adapters brain.safetensors --support few/good --out results scans/\n  mvfa predict --clip clip.pt --adapters Brain.pth --organ Brain --dump dumps test/*.png',
    )
    .action((images: string[], o: PredictOpts) =>
      run(async () => {
        applyGlobal(o);
        if (o.supportAugment !== 'none' && o.supportAugment !== 'mvfa')
          throw new UsageError(`--support-augment must be none or mvfa, got '${o.supportAugment}'`);
        if (o.task !== undefined && o.task !== 'AC+AS' && o.task !== 'AC') throw new UsageError(`--task must be AC+AS or AC, got '${o.task}'`);
        const shard = o.shard ? selectShard(expandInputs(images), o.shard) : null;
        const files = shard?.files ?? expandInputs(images);
        const loadOpts = windowLoadOptions(parseWindow(o.window));
        const engine = await openEngine(o);
        try {
          const model = await engine.load({
            adapters: o.adapters,
            organ: o.organ,
            levels: o.levels,
            imageSize: o.imageSize,
            task: o.task as Task | undefined,
            support: o.support ? { dir: o.support, augment: o.supportAugment as AugmentMode } : null,
          });
          if (o.support) log(o.quiet, `memory bank: ${engine.supportImages} support images`);
          for (const d of [o.dump, o.out]) if (d) await mkdir(d, { recursive: true });
          const fails = new FailureLog();
          const writer = new OutputWriter({ out: o.out, dump: o.dump });
          // Without calibration the rule needs the whole run: running ranges in memory, the maps spilled for a second pass.
          const run = model.calibration ? null : await RunFusion.open(model.task, o.dump);
          try {
            const scored: ScoredImage[] = [];
            const bar = progress('predict', files.length, o.quiet || o.json);
            for (const f of files) {
              // The dumps hold all four official outputs; the score needs only the task's memory-bank head.
              const r = await scoreFile(engine, f, {
                load: loadOpts,
                writer,
                allHeads: !!o.dump,
                onRaw: run ? async (_, raw) => void (await run.add(raw)) : undefined,
              });
              for (const x of r.failures) fails.add(x.input, x.error);
              scored.push(...r.images);
              bar.tick();
            }
            bar.stop();
            let scores = scored.map((s) => s.score ?? NaN);
            let rule: FusionRule | null = model.calibration ? { kind: 'calibration', source: model.calibration.source } : null;
            if (run && run.images > 0) {
              rule = run.rule;
              // Said even with --quiet: it is what the numbers mean, not progress.
              log(
                false,
                `note: ${o.adapters} stores no calibration, so scores and heatmaps use the ${describeRule(rule)}` +
                  (run.images === 1 ? ' (one image: its map is normalised over itself; score images together)' : ''),
              );
              scores = await fuseScored(run, scored, writer, loadOpts, (f, e) => fails.add(f, e));
            }
            const results = scored.map((s, i) => resultRow(s, scores[i]));
            const volumes: Record<string, VolumeSummary> = {};
            scored.forEach((s, i) => {
              if (s.volume) volumes[s.file] = addToVolume(volumes[s.file], scores[i], s.item);
            });
            const ruleOut = rule ? { ...rule, description: describeRule(rule) } : null;
            if (o.dump) {
              const entries = Object.fromEntries(scored.map((s, i) => [s.stem, dumpEntry(s, scores[i])]));
              await writeFile(join(o.dump, 'scores.json'), `${JSON.stringify(entries, null, 1)}\n`);
            }
            if (o.out)
              await writeFile(
                join(o.out, 'results.json'),
                `${JSON.stringify({ adapters: o.adapters, organ: engine.organ, task: model.task, rule: ruleOut, results, volumes, failures: fails.failures }, null, 1)}\n`,
              );
            if (o.json) process.stdout.write(`${JSON.stringify({ rule: ruleOut, results, volumes, failures: fails.failures })}\n`);
            else {
              for (const r of results) process.stdout.write(`${r.score.toFixed(6)}\t${r.image}\n`);
              for (const [f, v] of Object.entries(volumes)) process.stdout.write(`${v.max.toFixed(6)}\t${f} (max over ${v.slices} slices, at ${v.argmax})\n`);
            }
          } finally {
            await run?.close();
          }
          if (shard) await writeShardManifest([o.out, o.dump], shard);
          fails.summary(files.length);
          return fails.exitCode;
        } finally {
          await engine.release();
        }
      }),
    );
}
