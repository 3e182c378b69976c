// `mvfa merge`: joins the outputs of `mvfa predict --shard I/N` runs (see src/engine/merge.ts).
import { type Command } from 'commander';
import { MergeError, mergeShards } from '../../engine/merge.ts';
import { type ShardSpec, parseShard } from '../../engine/shard.ts';
import { type GlobalOptions, EXIT_OK, UsageError } from '../common.ts';

export function registerMerge(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('merge')
    .description('join the --out (and --dump) folders of `predict --shard I/N` runs into the output of one unsharded run')
    .requiredOption('--out <dir>', 'folder for the merged results.json and heatmaps (must not hold a results.json)')
    .option('--dump <dir>', 'folder for the merged raw maps and scores.json, when dump folders are given')
    .argument('<shard-dirs...>', "the shards' predict --out and --dump folders (each has a shard.json)")
    .addHelpText('after', '\nExample:\n  mvfa merge --out merged --dump merged/dump shards/*/out shards/*/dump')
    .action((dirs: string[], o: GlobalOptions & { out: string; dump?: string }) =>
      run(async () => {
        try {
          const s = await mergeShards(dirs, { out: o.out, dump: o.dump });
          if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
          else process.stderr.write(`merged ${s.shards} shards: ${s.files} files, ${s.results} results, ${s.failures} failures into ${o.out}\n`);
          return EXIT_OK;
        } catch (e) {
          if (e instanceof MergeError) throw new UsageError(e.message);
          throw e;
        }
      }),
    );
}

/** `--shard I/N` of `mvfa predict`. */
export function parseShardOption(v: string): ShardSpec {
  try {
    return parseShard(v);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
