// `mvfa metrics auroc`: exact AUROC of scores from anywhere.
import { type Command } from 'commander';
import { aurocExact } from '../../eval/index.ts';
import { readNpy } from '../../io/weights/npy.ts';
import { type HostTensor, toFloat32 } from '../../io/weights/tensor.ts';
import { EXIT_OK, UsageError } from '../common.ts';

function labelsOf(t: HostTensor, file: string): Uint8Array {
  const v = toFloat32(t);
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0 && v[i] !== 1) throw new UsageError(`${file}: labels must be 0 or 1, found ${v[i]} at index ${i}`);
    out[i] = v[i];
  }
  return out;
}

export function registerMetrics(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  const metrics = program.command('metrics').description('metrics on arrays computed elsewhere');
  metrics
    .command('auroc')
    .description('exact ROC AUC (ties count one half, as scikit-learn); arrays are flattened; prints {"auroc": x}')
    .requiredOption('--scores <file.npy>', 'scores (any float or int dtype)')
    .requiredOption('--labels <file.npy>', 'labels 0/1 (any dtype), same number of elements')
    .addHelpText('after', '\nExample:\n  mvfa metrics auroc --scores pixel_scores.npy --labels pixel_masks.npy')
    .action((o: { scores: string; labels: string }) =>
      run(async () => {
        const s = await readNpy(o.scores);
        const l = await readNpy(o.labels);
        const scores = s.dtype === 'float64' ? (s.data as Float64Array) : toFloat32(s);
        const labels = labelsOf(l, o.labels);
        if (scores.length !== labels.length) throw new UsageError(`${o.scores} has ${scores.length} elements but ${o.labels} has ${labels.length}`);
        process.stdout.write(`${JSON.stringify({ auroc: aurocExact(scores, labels) })}\n`);
        return EXIT_OK;
      }),
    );
}
