// Whole `mvfa` commands as a user runs them, each in a child process under /usr/bin/time: wall seconds and peak RSS
// on a random ViT-L/14-336-shaped CLIP (weights and text features cached on disk beforehand, as after a first run).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
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
 * `mvfa serve` with the model loaded, after `n` predictions through its JSON API: peak RSS of the whole server
 * process (/usr/bin/time, after it is stopped) and the mean seconds per prediction.
 */
async function benchServe(f: Fixtures, global: string[], env: Record<string, string>, n: number): Promise<Record<string, number>> {
  const marker = 'MVFA_TIME';
  const child = spawn(
    '/usr/bin/time',
    ['-f', `${marker} %e %M`, process.execPath, BIN, ...global.filter((a) => a !== '--quiet')].concat([
      'serve',
      '--clip',
      f.clip,
      '--adapters',
      f.adapters,
      '--port',
      '0',
    ]),
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  try {
    let url = '';
    for (let i = 0; i < 600 && !url; i++) {
      url = /listening on (http:\/\/\S+?);?\s/.exec(stderr)?.[1] ?? '';
      if (!url) await new Promise((r) => setTimeout(r, 100));
    }
    if (!url) throw new Error(`mvfa serve did not start: ${stderr.slice(-2000)}`);
    const image = new Blob([readFileSync(f.image)], { type: 'image/png' });
    let t0 = 0;
    for (let done = 0; done < n;) {
      const fd = new FormData();
      fd.append('image', image, 'image.png');
      const res = await fetch(new URL('/api/predict', url), { method: 'POST', body: fd });
      await res.arrayBuffer();
      if (res.status === 503) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (res.status !== 200) throw new Error(`mvfa serve: /api/predict answered ${res.status}`);
      if (done === 0) t0 = performance.now();
      done++;
    }
    const per = (performance.now() - t0) / 1000 / Math.max(1, n - 1);
    // Stop the server itself (the child of /usr/bin/time), so that time reports its figures.
    const server = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)[0];
    process.kill(server, 'SIGTERM');
    await exited;
    const line = stderr
      .split('\n')
      .reverse()
      .find((l) => l.startsWith(marker));
    if (!line) throw new Error(`mvfa serve: no /usr/bin/time figure: ${stderr.slice(-2000)}`);
    return { [`serve_${n}_predictions_peak_rss_mb`]: Number(line.split(' ')[2]) / 1024, serve_predict_s: per };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/**
 * Figures: predict of one image (zero-shot, then with a 2-image ×11 memory bank), AC-only training of 4 images
 * for one epoch, `mvfa serve` after 50 predictions, and the demo. `device` selects the execution provider, `shared` adds --shared-weights.
 */
export async function benchCommands(opts: { commands?: boolean; demo?: boolean; device?: string; shared?: boolean } = {}): Promise<Record<string, number>> {
  const f = await fixtures();
  const env = { MVFA_CACHE: f.cache };
  const g = ['--quiet', ...(opts.device ? ['--device', opts.device] : []), ...(opts.shared ? ['--shared-weights'] : [])];
  const res: Record<string, number> = {};
  if (opts.commands !== false) Object.assign(res, await benchPredictTrain(f, g, env), await benchServe(f, g, env, 50));
  if (opts.demo) {
    const d = timeCommand([...g, 'demo', '--clip', f.clip, '--out', join(WORK, 'demo')], env);
    res.demo_wall_s = d.wall_s;
    res.demo_peak_rss_mb = d.peak_rss_mb;
  }
  return res;
}

async function benchPredictTrain(f: Fixtures, g: string[], env: Record<string, string>): Promise<Record<string, number>> {
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
  return {
    predict_1_wall_s: one.wall_s,
    predict_1_peak_rss_mb: one.peak_rss_mb,
    predict_bank_2x11_wall_s: bank.wall_s,
    predict_bank_2x11_peak_rss_mb: bank.peak_rss_mb,
    train_ac_4img_1ep_wall_s: train.wall_s,
    train_ac_4img_1ep_peak_rss_mb: train.peak_rss_mb,
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const dev = args.find((a) => a.startsWith('--device='))?.split('=')[1];
  const only = args.find((a) => a.startsWith('--only='))?.split('=')[1];
  const f = await fixtures();
  const global = ['--quiet', ...(dev ? ['--device', dev] : [])];
  const env = { MVFA_CACHE: f.cache };
  const res =
    only === 'serve'
      ? await benchServe(f, global, env, 50)
      : only === 'predict-train'
        ? await benchPredictTrain(f, global, env)
        : await benchCommands({ commands: only !== 'demo', demo: args.includes('--demo') || only === 'demo', device: dev });
  console.log(JSON.stringify(res, null, 1));
}
