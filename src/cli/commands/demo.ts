// `mvfa demo`: few-shot MVFA on the bundled breast-ultrasound images, end to end.
import { type Command } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeBenchReport } from '../../engine/bench-report.ts';
import { fewShotProtocol, resolveDataset } from '../../engine/protocols.ts';
import { DEFAULT_CLIP_MODEL } from '../../hub/models.ts';
import { downloadClip } from './download.ts';
import { MVFA_DEFAULTS, defaultLevels } from '../../mvfa/defaults.ts';
import { type GlobalOptions, EXIT_OK, UsageError, applyGlobal, log, parseIntOpt, parseLevels, stageBar } from '../common.ts';
import { openEngine } from '../model-loading.ts';

export const DEMO_DATASET = fileURLToPath(new URL('../../../demo/BUSI_demo_AD', import.meta.url));

export function registerDemo(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('demo')
    .description('few-shot MVFA on the bundled breast-ultrasound demo images: AUROCs, heatmap overlays and an HTML report')
    .option('--clip <path>', 'CLIP weights (default: download OpenAI ViT-L/14-336 if not cached)')
    .option('--shots <k>', 'K normal + K abnormal training images (the demo ships K=2)', parseIntOpt('--shots'), 2)
    .option('--epochs <n>', 'training epochs', parseIntOpt('--epochs'), 2)
    .option('--levels <list>', "adapter blocks (1-based; default: the quarters of the CLIP's depth, 6,12,18,24 for ViT-L/14)", parseLevels)
    .option('--image-size <n>', 'model input size', parseIntOpt('--image-size', 14), MVFA_DEFAULTS.imageSize)
    .option('--out <dir>', 'output folder', 'mvfa-demo')
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .addHelpText('after', '\nExample:\n  npx mvfa demo   # ~10–15 min on 2 CPU cores once the weights are cached')
    .action((o: GlobalOptions & { clip?: string; shots: number; epochs: number; levels?: number[]; imageSize: number; out: string; activation?: string }) =>
      run(async () => {
        applyGlobal(o);
        if (!existsSync(DEMO_DATASET)) throw new UsageError(`demo images not found at ${DEMO_DATASET}`);
        const t0 = Date.now();
        const clipPath = o.clip ?? (await downloadClip(DEFAULT_CLIP_MODEL, o.quiet));
        const engine = await openEngine({ ...o, clip: clipPath });
        const { clip } = engine;
        const path = clip.source;
        const levels = o.levels ?? defaultLevels(clip.config.vision.layers);
        const ds = resolveDataset(DEMO_DATASET, DEMO_DATASET, 'breast ultrasound');
        log(
          o.quiet,
          `demo: BUSI breast ultrasound, K=${o.shots} normal + ${o.shots} abnormal training images (×11 augmented), ${o.epochs} epochs, ` +
            `test ${ds.test.normals.length} normal + ${ds.test.abnormals.length} abnormal; blocks ${levels.join(',')}, ${o.imageSize} px`,
        );
        const bar = stageBar(o.quiet || o.json);
        const runs = await fewShotProtocol({
          engine,
          dataset: ds,
          shots: o.shots,
          runs: 1,
          augment: MVFA_DEFAULTS.augment,
          epochs: o.epochs,
          lr: MVFA_DEFAULTS.lr,
          seed: MVFA_DEFAULTS.seed,
          levels,
          imageSize: o.imageSize,
          batchSize: MVFA_DEFAULTS.batchSize,
          aupro: false,
          workDir: o.out,
          onStage: (s, d, t) => bar.update(s.replace('run 1: ', ''), d, t),
        });
        bar.stop();
        const timings = { ...runs[0].timings, total_s: (Date.now() - t0) / 1000 };
        const files = await writeBenchReport({
          title: 'MVFA demo: few-shot anomaly detection on breast ultrasound (BUSI subset)',
          dataset: 'BUSI demo',
          config: {
            clip: path,
            shots: o.shots,
            epochs: o.epochs,
            augment: 'mvfa (×11)',
            levels: levels.join(','),
            image_size: o.imageSize,
            test_images: runs[0].result.images,
          },
          runs,
          stageTimings: timings,
          outDir: o.out,
        });
        const r = runs[0].result;
        if (o.json) process.stdout.write(`${JSON.stringify({ imageAuroc: r.imageAuroc, pixelAuroc: r.pixelAuroc, report: files.html, timings })}\n`);
        else {
          process.stdout.write(`image AUROC ${(r.imageAuroc * 100).toFixed(2)}%   pixel AUROC ${((r.pixelAuroc ?? 0) * 100).toFixed(2)}%\n`);
          process.stdout.write(`report: ${files.html}\noverlays: ${o.out}/overlays/\ntime: ${(timings.total_s / 60).toFixed(1)} min\n`);
        }
        await engine.release();
        return EXIT_OK;
      }),
    );
}
