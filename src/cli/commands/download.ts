// `mvfa download`: CLIP weights into the Hugging Face cache.
import { type Command } from 'commander';
import { DEFAULT_CLIP_MODEL, resolveClipWeights } from '../../hub/models.ts';
import { type GlobalOptions, EXIT_OK, type Progress, progress } from '../common.ts';

/** Downloads (or finds in the cache) CLIP weights, with a progress bar; returns the file. */
export async function downloadClip(model: string, quiet?: boolean): Promise<string> {
  let bar: Progress | null = null;
  let last = 0;
  const path = await resolveClipWeights(model, {
    onProgress: (received, total) => {
      if (!total) return;
      bar ??= progress(`download ${model} (${(total / 1e9).toFixed(2)} GB)`, Math.ceil(total / 1e6), quiet);
      const mb = Math.floor(received / 1e6);
      if (mb > last) {
        bar.tick(mb - last);
        last = mb;
      }
    },
  });
  (bar as Progress | null)?.stop();
  return path;
}

export function registerDownload(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('download')
    .description('download CLIP weights into the Hugging Face cache (HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE are honoured); resumable, SHA-256 verified')
    .option('--model <name>', 'model name', DEFAULT_CLIP_MODEL)
    .addHelpText('after', '\nExample:\n  mvfa download            # OpenAI CLIP ViT-L/14-336, 1.7 GB')
    .action((o: GlobalOptions & { model: string }) =>
      run(async () => {
        const path = await downloadClip(o.model, o.quiet);
        if (o.json) process.stdout.write(`${JSON.stringify({ model: o.model, path })}\n`);
        else process.stdout.write(`${path}\n`);
        return EXIT_OK;
      }),
    );
}
