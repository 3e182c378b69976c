// Whole `mvfa` commands as a user runs them, each in a child process under /usr/bin/time: wall seconds and peak RSS
// on a random ViT-L/14-336-shaped CLIP (weights and text features cached on disk beforehand, as after a first run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initAdapters } from '../src/mvfa/adapters.ts';
import { saveAdapters } from '../src/mvfa/checkpoint.ts';
import { randomClipFile } from './random-clip.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/mvfa.js');
const DEMO = join(ROOT, 'demo/BUSI_demo_AD');
const WORK = '/tmp/mvfa-bench/commands';

export interface Measured {
  wall_s: number;
  peak_rss_mb: number;
  stdout: string;
}

/** Runs `node bin/mvfa.js …args` under `/usr/bin/time -f '%e %M'`; throws with stderr when the command fails. */
export function timeCommand(args: string[], env: Record<string, string> = {}): Measured {
  const marker = 'MVFA_TIME';
  const r = spawnSync('/usr/bin/time', ['-f', `${marker} %e %M`, process.execPath, BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  const line = r.stderr
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(marker));
  if (r.status !== 0 || !line) throw new Error(`mvfa ${args[0]} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [, wall, kb] = line.split(' ');
  return { wall_s: Number(wall), peak_rss_mb: Number(kb) / 1024, stdout: r.stdout };
}

interface Fixtures {
  clip: string;
  adapters: string;
  image: string;
  normal: string;
  abnormal: string;
  cache: string;
}

async function fixtures(): Promise<Fixtures> {
  const clip = await randomClipFile();
  mkdirSync(WORK, { recursive: true });
  const adapters = join(WORK, 'adapters.safetensors');
  if (!existsSync(adapters)) {
    await saveAdapters(adapters, { adapters: initAdapters(1024, 768, [6, 12, 18, 24], 3), info: { organ: 'breast ultrasound', imageSize: '240' } }, true);
  }
  return {
    clip,
    adapters,
    image: join(DEMO, 'test/Ungood/img/busi_0001.png'),
    normal: join(DEMO, 'valid/good/img'),
    abnormal: join(DEMO, 'valid/Ungood/img'),
    cache: join(WORK, 'cache'),
  };
}

/**
 * Figures: predict of one image (zero-shot, then with a 2-image ×11 memory bank), AC-only training of 4 images
 * for one epoch, and optionally the demo. `device` selects the execution provider of every command.
 */
export async function benchCommands(opts: { demo?: boolean; device?: string } = {}): Promise<Record<string, number>> {
  const f = await fixtures();
  const env = { MVFA_CACHE: f.cache };
  const g = ['--quiet', ...(opts.device ? ['--device', opts.device] : [])];
  const predict = [...g, 'predict', '--clip', f.clip, '--adapters', f.adapters];
  // First run caches the text features (not measured), as `mvfa` does on a user's first call.
  timeCommand([...predict, f.image], env);
  const one = timeCommand([...predict, f.image], env);
  const bank = timeCommand([...predict, '--support', f.normal, f.image], env);
  const out = join(WORK, 'trained.safetensors');
  rmSync(out, { force: true });
  const train = timeCommand(
    [...g, 'train', '--clip', f.clip, '--organ', 'breast ultrasound', '--normal', f.normal, '--abnormal', f.abnormal].concat([
      '--epochs',
      '1',
      '--augment',
      'none',
      '--out',
      out,
      '--force',
    ]),
    env,
  );
  const res: Record<string, number> = {
    predict_1_wall_s: one.wall_s,
    predict_1_peak_rss_mb: one.peak_rss_mb,
    predict_bank_2x11_wall_s: bank.wall_s,
    predict_bank_2x11_peak_rss_mb: bank.peak_rss_mb,
    train_ac_4img_1ep_wall_s: train.wall_s,
    train_ac_4img_1ep_peak_rss_mb: train.peak_rss_mb,
  };
  if (opts.demo) {
    const d = timeCommand([...g, 'demo', '--clip', f.clip, '--out', join(WORK, 'demo')], env);
    res.demo_wall_s = d.wall_s;
    res.demo_peak_rss_mb = d.peak_rss_mb;
  }
  return res;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const dev = args.find((a) => a.startsWith('--device='))?.split('=')[1];
  console.log(JSON.stringify(await benchCommands({ demo: args.includes('--demo'), device: dev }), null, 1));
}
