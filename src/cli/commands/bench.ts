// `mvfa bench few|zero`: the paper's benchmark protocols with reports.
import { type Command } from 'commander';
import { join } from 'node:path';
import { type AugmentMode } from '../../data/training-set.ts';
import { writeBenchReport } from '../../engine/bench-report.ts';
import { type RunResult, fewShotProtocol, resolveDataset, zeroShotProtocol } from '../../engine/protocols.ts';
import { MVFA_DEFAULTS, defaultLevels } from '../../mvfa/defaults.ts';
import { type GlobalOptions, EXIT_OK, UsageError, applyGlobal, log, parseFloatOpt, parseIntOpt, parseLevels, stageBar } from '../common.ts';
import { openEngine } from '../model-loading.ts';

interface BenchOpts extends GlobalOptions {
  clip?: string;
  data: string;
  epochs: number;
  lr?: number;
  seed: number;
  levels?: number[];
  imageSize: number;
  batchSize: number;
  runs: number;
  out?: string;
  aupro?: boolean;
  activation?: string;
}

function common(cmd: Command, lr: string): Command {
  return cmd
    .option('--clip <path>', 'CLIP weights; default: the downloaded ViT-L/14-336')
    .requiredOption('--data <root>', 'folder holding the datasets ({Name}_AD folders)')
    .option('--epochs <n>', `training epochs (official: ${MVFA_DEFAULTS.epochs})`, parseIntOpt('--epochs'), MVFA_DEFAULTS.epochs)
    .option('--lr <x>', `learning rate (official: ${lr})`, parseFloatOpt('--lr'))
    .option('--seed <n>', 'seed (adapter init, shuffling, drawn splits)', parseIntOpt('--seed', 0), MVFA_DEFAULTS.seed)
    .option('--levels <list>', "adapter blocks (1-based; default: the quarters of the CLIP's depth, 6,12,18,24 for ViT-L/14)", parseLevels)
    .option('--image-size <n>', 'model input size', parseIntOpt('--image-size', 14), MVFA_DEFAULTS.imageSize)
    .option('--batch-size <n>', 'images per step (official: 1)', parseIntOpt('--batch-size'), MVFA_DEFAULTS.batchSize)
    .option('--runs <n>', 'repeat with other splits/seeds and report mean ± std', parseIntOpt('--runs'), 1)
    .option('--aupro', 'also compute AUPRO (needs ~16 bytes per test pixel)')
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .option('--out <dir>', 'report folder (default: mvfa-bench-<name>-<time>)');
}

async function finish(
  o: BenchOpts,
  name: string,
  title: string,
  config: Record<string, string | number | boolean | null>,
  runs: RunResult[],
  t0: number,
): Promise<number> {
  const outDir = o.out ?? `mvfa-bench-${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const timings: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.timings)) timings[`run${r.run + 1}_${k}`] = v;
  timings.total_s = (Date.now() - t0) / 1000;
  const files = await writeBenchReport({ title, dataset: name, config, runs, stageTimings: timings, outDir });
  const r0 = runs[0].result;
  const line = { dataset: name, imageAuroc: r0.imageAuroc, pixelAuroc: r0.pixelAuroc, runs: runs.length, report: files.html, timings };
  if (o.json) process.stdout.write(`${JSON.stringify(line)}\n`);
  else
    process.stdout.write(
      `${name}: image AUROC ${(r0.imageAuroc * 100).toFixed(2)}%${r0.pixelAuroc === null ? '' : `, pixel AUROC ${(r0.pixelAuroc * 100).toFixed(2)}%`}\nreport: ${files.html}\n`,
    );
  return EXIT_OK;
}

export function registerBench(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  const bench = program.command('bench').description("the paper's benchmark protocols (BMAD layout or any folder in it)");
  common(bench.command('few'), String(MVFA_DEFAULTS.lr))
    .description('few-shot: train on a K-shot split of valid/ (official seed lists), evaluate on test/')
    .requiredOption('--dataset <name>', 'Brain, Liver, Retina_RESC, Retina_OCT2017, Chest, Histopathology, or a folder in the same layout')
    .option('--organ <name>', 'organ name for folders that are not BMAD datasets')
    .option('--shots <k>', 'K normal + K abnormal training images', parseIntOpt('--shots'), 4)
    .option('--augment <none|mvfa>', 'the official ×11 augmentation', MVFA_DEFAULTS.augment)
    .addHelpText(
      'after',
      '\nExamples:\n  mvfa bench few --data data --dataset Brain --shots 4\n  mvfa bench few --data ../shared/data --dataset BUSI_AD --organ "breast ultrasound" --shots 4 --epochs 5',
    )
    .action((o: BenchOpts & { dataset: string; organ?: string; shots: number; augment: string }) =>
      run(async () => {
        applyGlobal(o);
        if (o.augment !== 'none' && o.augment !== 'mvfa') throw new UsageError(`--augment must be none or mvfa, got '${o.augment}'`);
        const t0 = Date.now();
        const ds = resolveDataset(o.data, o.dataset, o.organ);
        const engine = await openEngine(o);
        const { clip } = engine;
        const path = clip.source;
        const levels = o.levels ?? defaultLevels(clip.config.vision.layers);
        const outWork = o.out ?? '.';
        const bar = stageBar(o.quiet || o.json);
        const runs = await fewShotProtocol({
          engine,
          dataset: ds,
          shots: o.shots,
          runs: o.runs,
          augment: o.augment as AugmentMode,
          epochs: o.epochs,
          lr: o.lr ?? MVFA_DEFAULTS.lr,
          seed: o.seed,
          levels,
          imageSize: o.imageSize,
          batchSize: o.batchSize,
          aupro: !!o.aupro,
          workDir: join(outWork),
          onStage: (s, d, t) => bar.update(s, d, t),
        });
        bar.stop();
        log(o.quiet, `${ds.info.key}: ${ds.test.normals.length} normal + ${ds.test.abnormals.length} abnormal test images`);
        const config = {
          protocol: 'few-shot',
          dataset: ds.info.key,
          organ: ds.info.organ,
          task: ds.info.task,
          shots: o.shots,
          runs: o.runs,
          epochs: o.epochs,
          lr: o.lr ?? MVFA_DEFAULTS.lr,
          augment: o.augment,
          seed: o.seed,
          levels: levels.join(','),
          image_size: o.imageSize,
          batch_size: o.batchSize,
          clip: path,
          model_selection: 'none (fixed epochs)',
        };
        return finish(o, ds.info.key, `MVFA few-shot (K=${o.shots}) on ${ds.info.key}`, config, runs, t0);
      }),
    );
  common(bench.command('zero'), String(MVFA_DEFAULTS.lrZeroShot))
    .description("zero-shot, leave-one-out: train on the other datasets' test splits, evaluate on the target")
    .requiredOption('--target <name>', 'target BMAD dataset')
    .option('--sources <list>', 'comma-separated source datasets (default: all other BMAD datasets present)')
    .option('--organ <name>', 'organ of a target folder that is not a BMAD dataset (else its organ.txt); sources name theirs in organ.txt')
    .addHelpText(
      'after',
      '\nExamples:\n  mvfa bench zero --data data --target Liver --epochs 1\n  mvfa bench zero --data mydata --target Breast_AD --organ "breast ultrasound" --sources Liver,Thyroid_AD\n' +
        '  (a source folder that is not a BMAD dataset names its organ on the first line of its organ.txt)',
    )
    .action((o: BenchOpts & { target: string; sources?: string; organ?: string }) =>
      run(async () => {
        applyGlobal(o);
        const t0 = Date.now();
        const engine = await openEngine(o);
        const { clip } = engine;
        const path = clip.source;
        const levels = o.levels ?? defaultLevels(clip.config.vision.layers);
        const bar = stageBar(o.quiet || o.json);
        const runs = await zeroShotProtocol({
          engine,
          data: o.data,
          target: o.target,
          organ: o.organ,
          sources: o.sources?.split(','),
          runs: o.runs,
          epochs: o.epochs,
          lr: o.lr ?? MVFA_DEFAULTS.lrZeroShot,
          seed: o.seed,
          levels,
          imageSize: o.imageSize,
          batchSize: o.batchSize,
          aupro: !!o.aupro,
          workDir: o.out ?? '.',
          onStage: (s, d, t) => bar.update(s, d, t),
        });
        bar.stop();
        const config = {
          protocol: 'zero-shot (leave-one-out)',
          target: o.target,
          sources: o.sources ?? 'all others present',
          runs: o.runs,
          epochs: o.epochs,
          lr: o.lr ?? MVFA_DEFAULTS.lrZeroShot,
          seed: o.seed,
          levels: levels.join(','),
          image_size: o.imageSize,
          clip: path,
          model_selection: 'none (fixed epochs)',
        };
        return finish(o, o.target, `MVFA zero-shot on ${o.target}`, config, runs, t0);
      }),
    );
}
