// The `mvfa` command line.
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.ts';
import { EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, exitCodeOf, parseIntOpt } from './common.ts';

export async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const run = async (f: () => Promise<number>): Promise<void> => {
    try {
      code = await f();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      process.stderr.write(`error: ${err.message}\n`);
      if (process.env.MVFA_DEBUG) process.stderr.write(`${err.stack}\n`);
      code = exitCodeOf(e);
    }
  };
  const program = new Command('mvfa')
    .description('MVFA zero-/few-shot anomaly detection for medical images (CVPR 2024) on onnxruntime')
    .option('--threads <n>', 'compute threads (default: all cores)', parseIntOpt('--threads'))
    .option('--device <cpu|cuda|webgpu>', 'execution device (cuda needs the CUDA build of onnxruntime-node; webgpu uses Vulkan/Metal/D3D12)', 'cpu')
    .option('--shared-weights', 'CPU: all graphs read one host copy of the weights (least memory with several graphs open; matrix products ~20% slower)')
    .option('--json', 'machine-readable output on stdout')
    .option('--quiet', 'no progress output')
    .option('--vision-heads <n>', 'attention heads of the CLIP vision tower (default: width / 64, at least 1)', parseIntOpt('--vision-heads'))
    .option('--text-heads <n>', 'attention heads of the CLIP text tower (default: width / 64, at least 1)', parseIntOpt('--text-heads'))
    .enablePositionalOptions(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.hook('preAction', (_this, action) => {
    // Global options apply to every subcommand.
    Object.assign(action.opts(), { ...program.opts(), ...action.opts() });
  });
  for (const register of COMMANDS) register(program, run);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  return code;
}

export { EXIT_INPUT_FAILED };
