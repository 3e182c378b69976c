// `mvfa predict`: anomaly scores and heatmaps for images with trained adapters (optionally with a few-shot memory
// bank), through the Engine's one prediction path. With stored calibration each image is scored alone; without
// (an official .pth), the official rule applies: min–max over the images of this run.
import { type Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AugmentMode } from '../../data/training-set.ts';
import { writeHeatmapPng } from '../../engine/heatmap.ts';
import { type Prediction } from '../../engine/predict.ts';
import { writeNpy } from '../../io/weights/npy.ts';
import { type LoadMedicalOptions, type MedicalImageItem, loadMedicalImages } from '../../io/medical/medical-image.ts';
import { type BranchScores, type FusionRule, type Task, describeRule, mean } from '../../mvfa/fusion.ts';
import { MVFA_DEFAULTS } from '../../mvfa/defaults.ts';
import { type GlobalOptions, FailureLog, UsageError, applyGlobal, expandInputs, log, parseIntOpt, parseLevels, progress, stem } from '../common.ts';
import { openEngine } from '../model-loading.ts';
import { type ShardSpec, selectShard, writeShardManifest } from '../../engine/shard.ts';
import { parseWindow, safeName } from '../../engine/output-names.ts';
import { parseShardOption } from './merge.ts';

interface PredictOpts extends GlobalOptions {
  clip?: string;
  adapters: string;
  organ?: string;
  support?: string;
  supportAugment: string;
  levels?: number[];
  imageSize?: number;
  task?: string;
  dump?: string;
  out?: string;
  activation?: string;
  window?: string;
  shard?: ShardSpec;
}

/** One scored image of the run. */
interface Scored {
  file: string;
  item: string;
  /** Name in output files. */
  stem: string;
  /** Name shown in results. */
  shown: string;
  volume: boolean;
}

export function registerPredict(program: Command, run: (f: () => Promise<number>) => Promise<void>): void {
  program
    .command('predict')
    .description('score images: zero-shot (text) branch, plus the few-shot memory bank with --support')
    .option('--clip <path>', 'CLIP weights; default: the downloaded ViT-L/14-336')
    .requiredOption('--adapters <path>', 'trained adapters (.safetensors from `mvfa train`, or an official .pth)')
    .option('--organ <name>', 'organ name for the prompts (default: the one stored with the adapters)')
    .option('--support <dir>', 'folder of normal images for the few-shot memory bank')
    .option('--support-augment <none|mvfa>', 'expand the support images ×11 as the official code', 'mvfa')
    .option('--levels <list>', 'adapter blocks, for adapter files that do not store them', parseLevels)
    .option('--image-size <n>', `model input size (default: stored with the adapters, else ${MVFA_DEFAULTS.imageSize})`, parseIntOpt('--image-size', 14))
    .option('--task <AC+AS|AC>', 'score from the seg map (AC+AS) or the det head (AC), for adapters that store no task (default AC+AS)')
    .option('--dump <dir>', 'write raw maps: <stem>.zero_seg.npy, <stem>.few_seg.npy, <stem>.few_det.npy and scores.json')
    .option('--out <dir>', 'write results.json (scores and the fusion rule used) and heatmap overlays <stem>.png')
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .option('--window <auto|minmax|C,W>', "display window for DICOM and NIfTI (default: the file's window, or 0.5–99.5 percentiles)")
    .option('--shard <I/N>', 'score part I of N of the sorted input list (Slurm arrays, Indexed Jobs); join with `mvfa merge`', parseShardOption)
    .argument('<images...>', 'image files or folders (PNG, JPEG, TIFF, BMP, WebP, DICOM, NIfTI volumes: every axial slice is scored)')
    .addHelpText(
      'after',
      '\nWithout calibration stored with the adapters (official .pth files), scores and heatmaps use the official rule:\n' +
        'min–max over the images of the run, so score the images together.\n' +
        '\nExamples:\n  mvfa predict --adapters brain.safetensors --support few/good --out results scans/\n  mvfa predict --clip clip.pt --adapters Brain.pth --organ Brain --dump dumps test/*.png',
    )
    .action((images: string[], o: PredictOpts) =>
      run(async () => {
        applyGlobal(o);
        if (o.supportAugment !== 'none' && o.supportAugment !== 'mvfa')
          throw new UsageError(`--support-augment must be none or mvfa, got '${o.supportAugment}'`);
        if (o.task !== undefined && o.task !== 'AC+AS' && o.task !== 'AC') throw new UsageError(`--task must be AC+AS or AC, got '${o.task}'`);
        const shard = o.shard ? selectShard(expandInputs(images), o.shard) : null;
        const files = shard?.files ?? expandInputs(images);
        const window = parseWindow(o.window);
        const loadOpts: LoadMedicalOptions = { dicomWindow: window, niftiWindow: window === 'minmax' ? 'auto' : window };
        const engine = await openEngine(o);
        try {
          const model = await engine.load({
            adapters: o.adapters,
            organ: o.organ,
            levels: o.levels,
            imageSize: o.imageSize,
            task: o.task as Task | undefined,
            support: o.support ? { dir: o.support, augment: o.supportAugment as AugmentMode } : null,
          });
          if (o.support) log(o.quiet, `memory bank: ${engine.supportImages} support images`);
          for (const d of [o.dump, o.out]) if (d) await mkdir(d, { recursive: true });
          const fails = new FailureLog();
          const scored: Scored[] = [];
          const raws: BranchScores[] = [];
          const rows: Row[] = [];
          const bar = progress('predict', files.length, o.quiet || o.json);
          for (const f of files) {
            let items: MedicalImageItem[];
            try {
              items = await loadMedicalImages(f, loadOpts);
            } catch (e) {
              fails.add(f, e);
              bar.tick();
              continue;
            }
            for (const item of items) {
              try {
                // The dumps hold all four official outputs; the score needs only the task's memory-bank head.
                const raw = await engine.score(item.raster, { allHeads: !!o.dump });
                const s: Scored = {
                  file: f,
                  item: item.name,
                  stem: items.length === 1 && item.format === 'raster' ? stem(f) : safeName(item.name),
                  shown: item.name.includes('#') ? `${f}${item.name.slice(item.name.indexOf('#'))}` : f,
                  volume: items.length > 1,
                };
                if (o.dump) await dumpRaw(o.dump, s.stem, raw, model.imageSize);
                if (model.calibration) {
                  // Calibrated: each image is final now; its heatmap is written while its raster is at hand.
                  const p = engine.fuse([raw]).predictions[0];
                  if (o.out) await writeHeatmapPng(item.raster, p.map, join(o.out, `${s.stem}.png`));
                  rows.push(row(p));
                } else {
                  raws.push(raw);
                  rows.push(row({ raw, score: NaN }));
                }
                scored.push(s);
              } catch (e) {
                fails.add(item.name === f ? f : `${f} (${item.name})`, e);
              }
            }
            bar.tick();
          }
          bar.stop();
          let rule: FusionRule | null = model.calibration ? { kind: 'calibration', source: model.calibration.source } : null;
          if (!model.calibration && raws.length > 0) {
            const all = engine.fuse(raws);
            rule = all.rule;
            all.predictions.forEach((p, i) => (rows[i] = row(p)));
            // Said even with --quiet: it is what the numbers mean, not progress.
            log(
              false,
              `note: ${o.adapters} stores no calibration, so scores and heatmaps use the ${describeRule(rule)}` +
                (raws.length === 1 ? ' (one image: its map is normalised over itself; score images together)' : ''),
            );
            if (o.out) await writeRunHeatmaps(scored, all.predictions, o.out, loadOpts, fails);
          }
          const results = scored.map((s, i) => ({ image: s.shown, ...rows[i] }));
          const volumes: Record<string, { slices: number; max: number; argmax: string }> = {};
          scored.forEach((s, i) => {
            if (!s.volume) return;
            const v = (volumes[s.file] ??= { slices: 0, max: -Infinity, argmax: '' });
            v.slices++;
            if (results[i].score > v.max) {
              v.max = results[i].score;
              v.argmax = s.item;
            }
          });
          const ruleOut = rule ? { ...rule, description: describeRule(rule) } : null;
          if (o.dump) {
            const scores = Object.fromEntries(
              scored.map((s, i) => [s.stem, { zero_det: results[i].zero_det, few_det: results[i].few_det, score: results[i].score }]),
            );
            await writeFile(join(o.dump, 'scores.json'), `${JSON.stringify(scores, null, 1)}\n`);
          }
          if (o.out)
            await writeFile(
              join(o.out, 'results.json'),
              `${JSON.stringify({ adapters: o.adapters, organ: engine.organ, task: model.task, rule: ruleOut, results, volumes, failures: fails.failures }, null, 1)}\n`,
            );
          if (o.json) process.stdout.write(`${JSON.stringify({ rule: ruleOut, results, volumes, failures: fails.failures })}\n`);
          else {
            for (const r of results) process.stdout.write(`${r.score.toFixed(6)}\t${r.image}\n`);
            for (const [f, v] of Object.entries(volumes)) process.stdout.write(`${v.max.toFixed(6)}\t${f} (max over ${v.slices} slices, at ${v.argmax})\n`);
          }
          if (shard) await writeShardManifest([o.out, o.dump], shard);
          fails.summary(files.length);
          return fails.exitCode;
        } finally {
          await engine.release();
        }
      }),
    );
}

/** What results.json records per image (no maps: they are written as heatmaps and dumps). */
interface Row {
  score: number;
  zero_det: number;
  few_det?: number;
}

function row(p: Pick<Prediction, 'raw' | 'score'>): Row {
  return { score: p.score, zero_det: p.raw.zeroDet, ...(p.raw.fewDet ? { few_det: mean(p.raw.fewDet) } : {}) };
}

async function dumpRaw(dir: string, s: string, raw: BranchScores, size: number): Promise<void> {
  const sh = [size, size];
  const put = (name: string, data: Float32Array) => writeNpy(join(dir, `${s}.${name}.npy`), { dtype: 'float32', shape: sh, data }, { overwrite: true });
  await put('zero_seg', raw.zeroSeg);
  if (raw.fewSeg) await put('few_seg', raw.fewSeg);
  if (raw.fewDet instanceof Float32Array) await put('few_det', raw.fewDet);
}

/** Heatmaps of a run fused at its end: the images are decoded again, one file at a time. */
async function writeRunHeatmaps(scored: Scored[], fused: Prediction[], out: string, opts: LoadMedicalOptions, fails: FailureLog): Promise<void> {
  let i = 0;
  while (i < scored.length) {
    const file = scored[i].file;
    let items: Map<string, MedicalImageItem>;
    try {
      items = new Map((await loadMedicalImages(file, opts)).map((it) => [it.name, it]));
    } catch (e) {
      fails.add(file, e);
      items = new Map();
    }
    for (; i < scored.length && scored[i].file === file; i++) {
      const it = items.get(scored[i].item);
      if (it) await writeHeatmapPng(it.raster, fused[i].map, join(out, `${scored[i].stem}.png`));
    }
  }
}
