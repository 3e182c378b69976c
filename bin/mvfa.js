#!/usr/bin/env node
// Entry point: runs the TypeScript CLI through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
