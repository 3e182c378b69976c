// Commands registered from optional modules (benchmark protocols, download, demo, web server).
import { type Command } from 'commander';

export type Register = (program: Command, run: (f: () => Promise<number>) => Promise<void>) => void;

export async function extraCommands(): Promise<Register[]> {
  return [
    (await import('./commands/serve.ts')).registerServe,
    ...(await import('./commands/scale-out.ts')).scaleOutCommands,
  ];
}
