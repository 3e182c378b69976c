// `mvfa text-features` and `mvfa embed`.
import { type Command } from 'commander';
import { writeNpy } from '../../io/weights/npy.ts';
import { l2normalizeRows } from '../../clip/model.ts';
import { anomalyTextFeatures } from '../../clip/text-features.ts';
import { MVFA_DEFAULTS } from '../../mvfa/defaults.ts';
import { type GlobalOptions, EXIT_OK, FailureLog, UsageError, applyGlobal, expandInputs, log, parseIntOpt, progress } from '../common.ts';
import { imageTensor, openClip } from '../model-loading.ts';

interface TextOpts extends GlobalOptions {
  clip?: string;
  organ: string;
  out: string;
  activation?: string;
  prompts?: string;
  force?: boolean;
}

export function registerClipCommands(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('text-features')
    .description('MVFA text features for an organ: float32 [2, D] .npy, row 0 normal, row 1 abnormal')
    .option('--clip <path>', 'CLIP weights (.safetensors/.pt/.pth/.bin); default: the downloaded ViT-L/14-336')
    .requiredOption('--organ <name>', 'organ or object name inserted into the prompts (e.g. Brain)')
    .requiredOption('--out <file.npy>', 'output .npy file')
    .option('--activation <gelu|quickgelu>', 'GELU variant of the towers (official MVFA: gelu)', 'gelu')
    .option('--prompts <code|paper>', 'abnormal states: the official code (5, with "broken") or the paper (4)', 'code')
    .option('--force', 'overwrite the output file')
    .addHelpText('after', '\nExample:\n  mvfa text-features --clip ViT-L-14-336px.pt --organ Brain --out brain_text.npy')
    .action((o: TextOpts) =>
      run(async () => {
        applyGlobal(o);
        if (o.prompts !== 'code' && o.prompts !== 'paper') throw new UsageError(`--prompts must be code or paper, got '${o.prompts}'`);
        const { clip } = await openClip(o);
        const t0 = Date.now();
        const f = await anomalyTextFeatures(clip, o.organ, o.prompts);
        await writeNpy(o.out, { dtype: 'float32', shape: [2, clip.config.embedDim], data: f }, { overwrite: !!o.force });
        log(o.quiet, `text features for '${o.organ}' (420 prompts) in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${o.out}`);
        await clip.release();
        return EXIT_OK;
      }),
    );

  program
    .command('embed')
    .description('CLIP image embeddings ln_post(class token)·proj: float32 [N, D] .npy, rows in input order')
    .option('--clip <path>', 'CLIP weights; default: the downloaded ViT-L/14-336')
    .requiredOption('--out <file.npy>', 'output .npy file')
    .option('--image-size <n>', 'model input size', parseIntOpt('--image-size', 14), MVFA_DEFAULTS.imageSize)
    .option('--activation <gelu|quickgelu>', 'GELU variant', 'gelu')
    .option('--normalize', 'L2-normalise each row')
    .option('--force', 'overwrite the output file')
    .argument('<images...>', 'image files or folders')
    .addHelpText('after', '\nExample:\n  mvfa embed --clip ViT-L-14-336px.pt --out emb.npy scans/*.png')
    .action(
      (images: string[], o: GlobalOptions & { clip?: string; out: string; imageSize: number; activation?: string; normalize?: boolean; force?: boolean }) =>
        run(async () => {
          applyGlobal(o);
          const files = expandInputs(images);
          const { clip } = await openClip(o);
          const d = clip.config.embedDim;
          const out = new Float32Array(files.length * d);
          const fails = new FailureLog();
          const bar = progress('embed', files.length, o.quiet);
          for (let i = 0; i < files.length; i++) {
            try {
              const emb = await clip.encodeImages(await imageTensor(files[i], o.imageSize), 1, o.imageSize);
              out.set(o.normalize ? l2normalizeRows(emb, d) : emb, i * d);
            } catch (e) {
              fails.add(files[i], e);
              out.fill(Number.NaN, i * d, (i + 1) * d);
            }
            bar.tick();
          }
          bar.stop();
          await writeNpy(o.out, { dtype: 'float32', shape: [files.length, d], data: out }, { overwrite: !!o.force });
          fails.summary(files.length);
          await clip.release();
          return fails.exitCode;
        }),
    );
}
