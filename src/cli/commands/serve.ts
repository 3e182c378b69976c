// `mvfa serve`: the local web page (drop images, see scores and heatmaps, train from a few examples).
import { type Command } from 'commander';
import { existsSync } from 'node:fs';
import { type Activation } from '../../clip/transformer.ts';
import { type AugmentMode } from '../../data/training-set.ts';
import { allowedHostNames, exposureWarning, isLoopback } from '../../web/host-check.ts';
import { startServer } from '../../web/server.ts';
import { MVFA_DEFAULTS } from '../../mvfa/defaults.ts';
import { type GlobalOptions, EXIT_OK, UsageError, applyGlobal, cacheDir, log, parseFloatOpt, parseIntOpt, parseLevels } from '../common.ts';
import { resolveClipPath } from '../model-loading.ts';

interface ServeOpts extends GlobalOptions {
  clip: string[];
  adapters: string[];
  organ?: string;
  support?: string;
  supportAugment: string;
  host: string;
  allowHost: string[];
  port: number;
  imageSize?: number;
  levels?: number[];
  maxUploadMb: number;
  queue: number;
  timeoutS: number;
  maxEpochs: number;
  activation: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerServe(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('serve')
    .description('local web page: drop images to get anomaly scores and heatmaps, or train from a few examples')
    .option(
      '--clip <path>',
      'CLIP weights (repeatable: the page may switch between the files given; the first is loaded); default: the downloaded ViT-L/14-336',
      collect,
      [],
    )
    .option('--adapters <path>', 'trained adapters (repeatable like --clip; the first is loaded)', collect, [])
    .option('--organ <name>', 'organ name for the prompts (default: the one stored with the adapters)')
    .option('--support <dir>', 'folder of normal images for the few-shot memory bank of adapters loaded from files')
    .option('--support-augment <none|mvfa>', 'expand the support images ×11 as the official code', 'mvfa')
    .option('--host <address>', 'address to listen on (only this computer by default)', '127.0.0.1')
    .option(
      '--allow-host <name>',
      "a further name requests may use for this server, e.g. its DNS name or a proxy's (repeatable; other names are refused)",
      collect,
      [],
    )
    .option('--port <n>', 'port (0: any free port)', parseIntOpt('--port', 0), 8765)
    .option('--image-size <n>', `model input size (default: stored with the adapters, else ${MVFA_DEFAULTS.imageSize})`, parseIntOpt('--image-size', 14))
    .option('--levels <list>', 'adapter blocks, for adapter files that do not store them and for training', parseLevels)
    .option('--max-upload-mb <x>', 'largest accepted image file, in MB', parseFloatOpt('--max-upload-mb'), 20)
    .option('--queue <n>', 'most images waiting to be scored; more get "busy, retry later"', parseIntOpt('--queue'), 8)
    .option('--timeout-s <x>', 'time allowed for one request (upload and scoring)', parseFloatOpt('--timeout-s'), 120)
    .option('--max-epochs <n>', 'most training epochs the page may ask for', parseIntOpt('--max-epochs'), 20)
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .addHelpText(
      'after',
      '\nExamples:\n  mvfa serve --clip ViT-L-14-336px.pt --adapters brain.safetensors\n  mvfa serve --clip clip.pt --adapters Brain.pth --adapters Liver.pth --organ Brain --support few/good --port 9000\n\nThe page has no login: keep the default --host 127.0.0.1 unless everyone who can reach the machine may use it.',
    )
    .action((o: ServeOpts) =>
      run(async () => {
        applyGlobal(o);
        if (o.port > 65535) throw new UsageError(`--port must be at most 65535, got ${o.port}`);
        if (o.supportAugment !== 'none' && o.supportAugment !== 'mvfa')
          throw new UsageError(`--support-augment must be none or mvfa, got '${o.supportAugment}'`);
        if (o.activation !== 'gelu' && o.activation !== 'quickgelu') throw new UsageError(`--activation must be gelu or quickgelu, got '${o.activation}'`);
        const clipPaths = o.clip.length ? o.clip : [await resolveClipPath({})];
        for (const p of [...clipPaths, ...o.adapters]) if (!existsSync(p)) throw new UsageError(`${p}: no such file`);
        if (o.support && !existsSync(o.support)) throw new UsageError(`--support ${o.support}: no such folder`);
        for (const h of o.allowHost)
          if (!/^[A-Za-z0-9.:[\]_-]{1,253}$/.test(h)) throw new UsageError(`--allow-host ${JSON.stringify(h)}: not a host name or address`);
        // Signals are handled from here on: before the server is up, the process exits at once (the exit handlers
        // remove the private upload folder); afterwards the server is closed in order.
        let up = false;
        let wake = (): void => {};
        const stopped = new Promise<void>((resolve) => (wake = resolve));
        const onSignal = (sig: NodeJS.Signals): void => {
          if (!up) process.exit(sig === 'SIGINT' ? 130 : 143);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          wake();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const srv = await startServer({
          clipPaths,
          adapterPaths: o.adapters,
          organ: o.organ,
          supportDir: o.support,
          supportAugment: o.supportAugment as AugmentMode,
          imageSize: o.imageSize,
          levels: o.levels,
          activation: o.activation as Activation,
          cacheDir: cacheDir(),
          host: o.host,
          allowHosts: o.allowHost,
          port: o.port,
          onListening: (url) => {
            if (!isLoopback(o.host)) {
              const port = Number(new URL(url).port || '80');
              process.stderr.write(exposureWarning(o.host, port, [...allowedHostNames(o.host, o.allowHost)]));
            }
            log(o.quiet, `listening on ${url}; loading the model (images dropped on the page meanwhile are checked once it is ready)…`);
          },
          maxUploadBytes: Math.round(o.maxUploadMb * 1024 * 1024),
          queue: o.queue,
          timeoutMs: Math.round(o.timeoutS * 1000),
          maxEpochs: o.maxEpochs,
          log: (m) => log(o.quiet, m),
        });
        up = true;
        const onRejection = (e: unknown) => log(false, `error: ${e instanceof Error ? e.message : String(e)}`);
        process.on('unhandledRejection', onRejection);
        if (o.json) process.stdout.write(`${JSON.stringify({ url: srv.url, host: srv.host, port: srv.port })}\n`);
        log(false, `mvfa serve: open ${srv.url} in a web browser (Ctrl+C to stop)`);
        await stopped;
        log(o.quiet, 'stopping…');
        await srv.close();
        process.off('unhandledRejection', onRejection);
        return EXIT_OK;
      }),
    );
}
