// `npm run bench -- [--json] [--only a,b,…]`: speed figures of the compute core, CLIP, MVFA and metrics.
// Groups: core (matmul + ViT-L block), torch (same work on PyTorch CPU, when python3-torch is installed),
// load (1.7 GB checkpoint), text (420-prompt text features), mvfa (inference and training step), metrics (AUROC 214 M),
// commands (whole `mvfa predict` / `train` / `serve` runs: wall and peak RSS under /usr/bin/time), demo (`mvfa demo`).
// `--device cpu|cuda|webgpu` runs every group on that device.
import { spawnSync } from 'node:child_process';
import { benchBlock, benchMatmul } from './block.ts';
import { benchCommands } from './commands.ts';
import { benchClipLoad, benchMvfa, benchTextFeatures } from './mvfa.ts';
import { DEVICES, type Device, configureSessions } from '../src/graph/index.ts';

const GROUPS = ['core', 'torch', 'load', 'text', 'mvfa', 'metrics', 'commands', 'demo'];

function torchFigures(parts: string): Record<string, number | string> {
  // Debian's OpenBLAS settings of this machine slow PyTorch; drop them for its measurement only.
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync(process.env.MVFA_PYTHON ?? 'python3', [new URL('./torch_bench.py', import.meta.url).pathname, '--only', parts], {
    encoding: 'utf8',
    env,
  });
  if (r.status !== 0) return { torch_error: (r.stderr || 'python3-torch not available').trim().split('\n').at(-1) ?? 'failed' };
  return JSON.parse(r.stdout) as Record<string, number | string>;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const onlyArg = args.find((a) => a.startsWith('--only'));
  const only = onlyArg ? (onlyArg.includes('=') ? onlyArg.split('=')[1] : args[args.indexOf(onlyArg) + 1]).split(',') : GROUPS;
  const devArg = args.find((a) => a.startsWith('--device'));
  const device = (devArg ? (devArg.includes('=') ? devArg.split('=')[1] : args[args.indexOf(devArg) + 1]) : 'cpu') as Device;
  if (!DEVICES.includes(device)) throw new Error(`--device must be ${DEVICES.join(', ')}, got '${device}'`);
  // Default: each session owns and pre-packs its weights, as `mvfa` does with a checkpoint file (the block and MVFA
  // figures below use weights in memory, handed over the same way). --shared-weights: the CLI's option of that name.
  const shared = args.includes('--shared-weights');
  configureSessions({ device, weights: shared ? 'inputs' : 'external' });
  const out: Record<string, number | string> = {
    threads: Number(process.env.MVFA_THREADS ?? 0) || 'all cores',
    device,
    weights: shared ? 'shared (graph inputs)' : 'owned by each session, pre-packed',
  };
  const say = (k: string) => !json && process.stderr.write(`bench: ${k}…\n`);
  if (only.includes('core')) {
    say('core');
    out.matmul_gflops = await benchMatmul();
    const b = await benchBlock();
    out.block_fwd_ms = b.fwd;
    out.block_fwdbwd_ms = b.fwdbwd;
  }
  if (only.includes('torch')) {
    say('torch');
    Object.assign(out, torchFigures(only.includes('mvfa') ? 'block,mvfa' : 'block'));
  }
  if (only.includes('load')) {
    say('load');
    Object.assign(out, await benchClipLoad());
  }
  if (only.includes('text')) {
    say('text');
    Object.assign(out, await benchTextFeatures());
  }
  if (only.includes('mvfa')) {
    say('mvfa');
    Object.assign(out, await benchMvfa());
  }
  if (only.includes('metrics')) {
    say('metrics');
    // A fresh process, so that the extra-memory figure is not hidden by what the other groups left in the heap.
    const r = spawnSync(process.execPath, ['--import', 'tsx', new URL('./metrics.ts', import.meta.url).pathname], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`metrics benchmark failed: ${r.stderr}`);
    Object.assign(out, JSON.parse(r.stdout) as Record<string, number>);
  }
  if (only.includes('commands') || only.includes('demo')) {
    say('commands');
    Object.assign(out, await benchCommands({ commands: only.includes('commands'), demo: only.includes('demo'), device, shared }));
  }
  if (!onlyArg || only.includes('queue')) Object.assign(out, await (await import('./queue.ts')).benchQueue()); // #13: queue overhead, 1 vs 2 workers
  if (typeof out.torch_block_fwd_ms === 'number' && typeof out.block_fwd_ms === 'number') {
    out.speedup_block_fwd = out.torch_block_fwd_ms / out.block_fwd_ms;
    out.speedup_block_fwdbwd = (out.torch_block_fwdbwd_ms as number) / (out.block_fwdbwd_ms as number);
  }
  process.stdout.write(json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n`);
}

await main();
