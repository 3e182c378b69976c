// Shared CLI plumbing: exit codes, errors, option parsing, progress, output files.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import cliProgress from 'cli-progress';
import { configureClipHeads } from '../clip/factory.ts';
import { DEVICES, configureSessions, type Device } from '../graph/index.ts';
import { RefusedInputError } from '../util/errors.ts';

export const EXIT_OK = 0;
export const EXIT_INPUT_FAILED = 1;
export { EXIT_USAGE } from '../util/errors.ts';

/** A usage or configuration problem: exit code 2. */
export class UsageError extends RefusedInputError {
  override readonly name = 'UsageError';
}

/**
 * The exit code an error means: its class says so with an `exitCode` field (usage errors and unusable files given on
 * the command line: 2); any other failure is 1.
 */
export function exitCodeOf(e: unknown): number {
  const c = (e as { exitCode?: unknown } | null)?.exitCode;
  return typeof c === 'number' && Number.isInteger(c) && c > 0 ? c : EXIT_INPUT_FAILED;
}

export interface GlobalOptions {
  threads?: number;
  device?: Device;
  json?: boolean;
  quiet?: boolean;
  /** Attention heads of non-standard CLIP towers (default width // 64, at least 1). */
  visionHeads?: number;
  textHeads?: number;
  /**
   * CPU: every graph reads one host copy of the weights at each run (least memory when several graphs are open,
   * matrix products about 20 % slower) instead of each session owning and pre-packing its own.
   */
  sharedWeights?: boolean;
}

export function applyGlobal(o: GlobalOptions): void {
  if (o.device && !DEVICES.includes(o.device)) throw new UsageError(`--device must be ${DEVICES.join(', ')}, got '${o.device}'`);
  if (o.sharedWeights && o.device && o.device !== 'cpu') throw new UsageError(`--shared-weights is for --device cpu (an accelerator holds its own copy)`);
  configureSessions({ threads: o.threads, device: o.device, ...(o.sharedWeights ? { weights: 'inputs' as const } : {}) });
  configureClipHeads({ visionHeads: o.visionHeads, textHeads: o.textHeads });
}

export function parseIntOpt(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

export function parseFloatOpt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number, got '${v}'`);
    return n;
  };
}

export function parseLevels(v: string): number[] {
  const lv = v.split(',').map((s) => Number(s.trim()));
  if (lv.length === 0 || lv.some((l) => !Number.isInteger(l) || l < 1))
    throw new UsageError(`--levels must be comma-separated block numbers like 6,12,18,24, got '${v}'`);
  return lv;
}

export const IMAGE_EXTS = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp', '.gif', '.dcm', '.dicom', '.nii', '.gz']);

export function isImagePath(p: string): boolean {
  const e = extname(p).toLowerCase();
  if (e === '.gz') return p.toLowerCase().endsWith('.nii.gz');
  return IMAGE_EXTS.has(e);
}

/** Files given directly, plus the image files inside given folders (sorted, not recursive). */
export function expandInputs(inputs: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of inputs) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const files = readdirSync(p)
        .filter((f) => !f.startsWith('.') && isImagePath(f))
        .sort()
        .map((f) => join(p, f));
      if (files.length === 0) throw new UsageError(`${p}: folder contains no images`);
      out.push(...files);
    } else out.push(p);
  }
  return out;
}

export { stem } from '../engine/output-names.ts';

export { cacheDir } from '../engine/cache-dir.ts';

export interface Progress {
  tick(n?: number, status?: string): void;
  stop(): void;
}

/** A progress bar with ETA on stderr (plain lines when stderr is not a terminal; nothing when quiet). */
export function progress(label: string, total: number, quiet = false): Progress {
  if (quiet) return { tick() {}, stop() {} };
  if (!process.stderr.isTTY) {
    let done = 0;
    let last = 0;
    const t0 = Date.now();
    return {
      tick(n = 1, status = '') {
        done += n;
        const now = Date.now();
        if (done === total || now - last > 5000) {
          last = now;
          const eta = done > 0 ? (((now - t0) / done) * (total - done)) / 1000 : 0;
          process.stderr.write(`${label}: ${done}/${total} ETA ${eta.toFixed(0)}s ${status}\n`);
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted} | {status}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { status: '' });
  return {
    tick(n = 1, status = '') {
      bar.increment(n, { status });
    },
    stop() {
      bar.stop();
    },
  };
}

export function log(quiet: boolean | undefined, msg: string): void {
  if (!quiet) process.stderr.write(`${msg}\n`);
}

/** Collects per-input failures so a batch goes on and reports them at the end. */
export class FailureLog {
  readonly failures: { input: string; reason: string }[] = [];
  add(input: string, e: unknown): void {
    const reason = e instanceof Error ? e.message : String(e);
    this.failures.push({ input, reason });
    process.stderr.write(`error: ${reason.startsWith(input) ? reason : `${input}: ${reason}`}\n`);
  }
  get exitCode(): number {
    return this.failures.length ? EXIT_INPUT_FAILED : EXIT_OK;
  }
  summary(total: number): void {
    if (this.failures.length)
      process.stderr.write(`${this.failures.length} of ${total} inputs failed:\n${this.failures.map((f) => `  ${f.input}: ${f.reason}`).join('\n')}\n`);
  }
}

/** One progress bar per named stage: a new bar starts whenever the stage name changes. */
export function stageBar(quiet: boolean | undefined): { update(stage: string, done: number, total: number): void; stop(): void } {
  let bar: Progress | null = null;
  let current = '';
  return {
    update(stage: string, done: number, total: number) {
      if (stage !== current) {
        bar?.stop();
        bar = progress(stage, total, quiet);
        current = stage;
      }
      bar!.tick(1);
      if (done === total) {
        bar!.stop();
        bar = null;
        current = '';
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
