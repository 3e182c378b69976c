// `mvfa train`: adapters from a few normal and abnormal images.
import { type Command } from 'commander';
import { type AugmentMode } from '../../data/training-set.ts';
import { loadAdapters } from '../../mvfa/checkpoint.ts';
import { type LossVariant } from '../../mvfa/training-graph.ts';
import { MVFA_DEFAULTS, defaultLevels } from '../../mvfa/defaults.ts';
import { type GlobalOptions, EXIT_OK, UsageError, applyGlobal, log, parseFloatOpt, parseIntOpt, parseLevels, progress, type Progress } from '../common.ts';
import { openEngine } from '../model-loading.ts';

interface TrainOpts extends GlobalOptions {
  clip?: string;
  organ: string;
  normal: string;
  abnormal: string;
  masks?: string;
  epochs: number;
  lr: number;
  augment: string;
  shuffle: boolean;
  init?: string;
  levels?: number[];
  imageSize: number;
  batchSize: number;
  seed: number;
  out: string;
  resume?: boolean;
  force?: boolean;
  activation?: string;
  loss: string;
}

export function registerTrain(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('train')
    .description('train MVFA adapters on a few normal and abnormal images (with masks: AC+AS; without: AC-only)')
    .option('--clip <path>', 'CLIP weights; default: the downloaded ViT-L/14-336')
    .requiredOption('--organ <name>', 'organ name for the text prompts')
    .requiredOption('--normal <dir>', 'folder of normal images')
    .requiredOption('--abnormal <dir>', 'folder of abnormal images')
    .option('--masks <dir>', 'folder of masks named like their abnormal images (omit for AC-only training)')
    .option('--epochs <n>', 'epochs', parseIntOpt('--epochs'), MVFA_DEFAULTS.epochs)
    .option(
      '--lr <x>',
      `learning rate (official: ${MVFA_DEFAULTS.lr} few-shot, ${MVFA_DEFAULTS.lrZeroShot} zero-shot)`,
      parseFloatOpt('--lr'),
      MVFA_DEFAULTS.lr,
    )
    .option('--augment <none|mvfa>', 'the official ×11 augmentation of the training images', MVFA_DEFAULTS.augment)
    .option('--shuffle', 'shuffle each epoch (default)', true)
    .option('--no-shuffle', 'fixed order: abnormal files sorted by name, then normal files')
    .option('--init <adapters>', 'start from adapters (.safetensors or official .pth)')
    .option('--levels <list>', "adapter blocks (1-based; default: the quarters of the CLIP's depth, 6,12,18,24 for ViT-L/14)", parseLevels)
    .option('--image-size <n>', 'model input size', parseIntOpt('--image-size', 14), MVFA_DEFAULTS.imageSize)
    .option('--batch-size <n>', 'images per optimiser step (official: 1)', parseIntOpt('--batch-size'), MVFA_DEFAULTS.batchSize)
    .option('--seed <n>', 'seed for initialisation and shuffling', parseIntOpt('--seed', 0), MVFA_DEFAULTS.seed)
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .option(
      '--loss <code|paper>',
      "loss definitions: the official code's (softmax after upsampling, BCE-with-logits on the mean) or the paper's (softmax first, BCE on the max)",
      MVFA_DEFAULTS.loss,
    )
    .requiredOption('--out <adapters.safetensors>', 'output adapters file')
    .option('--resume', 'continue an interrupted run from <out>.state')
    .option('--force', 'overwrite the output file')
    .addHelpText(
      'after',
      '\nExamples:\n  mvfa train --organ Brain --normal few/good --abnormal few/bad --masks few/masks --epochs 50 --out brain.safetensors\n  mvfa train --organ "Chest X-ray film" --normal n --abnormal a --no-shuffle --augment none --epochs 1 --out chest.safetensors',
    )
    .action((o: TrainOpts) =>
      run(async () => {
        applyGlobal(o);
        if (o.augment !== 'none' && o.augment !== 'mvfa') throw new UsageError(`--augment must be none or mvfa, got '${o.augment}'`);
        if (o.loss !== 'code' && o.loss !== 'paper') throw new UsageError(`--loss must be code or paper, got '${o.loss}'`);
        const engine = await openEngine(o);
        const clip = engine.clip;
        const levels = o.levels ?? defaultLevels(clip.config.vision.layers);
        const init = o.init ? (await loadAdapters(o.init, levels, clip.config.vision.layers)).adapters : undefined;
        if (init && init.levels.join(',') !== levels.join(','))
          throw new UsageError(`--init adapters have levels ${init.levels.join(',')}, but --levels is ${levels.join(',')}`);
        let bar: Progress | null = null;
        let barKind = '';
        const res = await engine.fit({
          normalDir: o.normal,
          abnormalDir: o.abnormal,
          masksDir: o.masks,
          organ: o.organ,
          epochs: o.epochs,
          lr: o.lr,
          augment: o.augment as AugmentMode,
          shuffle: o.shuffle,
          seed: o.seed,
          levels,
          imageSize: o.imageSize,
          batchSize: o.batchSize,
          loss: o.loss as LossVariant,
          init,
          out: o.out,
          resume: o.resume,
          overwrite: o.force,
          onStage: (stage, done, total) => {
            if (stage === 'resume') process.stderr.write(`resuming after epoch ${done} of ${total}\n`);
            if (stage === 'load') {
              if (barKind !== 'load') {
                bar = progress('load images', total, o.quiet);
                barKind = 'load';
              }
              bar!.tick();
              if (done === total) bar!.stop();
            }
          },
          // one bar per epoch, labelled with the epoch that is running, counting that epoch's steps
          onStep: (s, perEpoch) => {
            if (barKind !== `train ${s.epoch}`) {
              bar?.stop();
              bar = progress(`train epoch ${s.epoch + 1}/${o.epochs}`, perEpoch, o.quiet);
              barKind = `train ${s.epoch}`;
            }
            bar!.tick(1, `loss ${s.total.toFixed(4)}`);
          },
        });
        (bar as Progress | null)?.stop();
        const last = res.losses.at(-1);
        const summary = { out: o.out, steps: res.losses.length, finalLoss: last?.total ?? null, timings: res.timings, calibration: res.checkpoint.calibration };
        if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else log(false, `saved ${o.out} (${res.losses.length} steps, last loss ${last?.total.toFixed(4)}); timings ${JSON.stringify(res.timings)}`);
        await engine.release();
        return EXIT_OK;
      }),
    );
}
