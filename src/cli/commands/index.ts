// The registry of `mvfa` commands, in the order `mvfa --help` lists them. Each command lives in a module of this
// folder that exports a `Register`; adding a command is adding it here, and nowhere else.
import { type Command } from 'commander';
import { registerBench } from './bench.ts';
import { registerClipCommands } from './clip-commands.ts';
import { registerDemo } from './demo.ts';
import { registerDownload } from './download.ts';
import { registerMetrics } from './metrics.ts';
import { registerPredict } from './predict.ts';
import { scaleOutCommands } from './scale-out.ts';
import { registerServe } from './serve.ts';
import { registerTrain } from './train.ts';

/** Runs a command's action and records its exit code (see main.ts). */
export type RunAction = (f: () => Promise<number>) => Promise<void>;

/** Adds one command (or a few related ones) to the program. */
export type Register = (program: Command, run: RunAction) => void;

export const COMMANDS: readonly Register[] = [
  registerClipCommands,
  registerTrain,
  registerPredict,
  registerMetrics,
  registerBench,
  registerDownload,
  registerDemo,
  registerServe,
  ...scaleOutCommands,
];
