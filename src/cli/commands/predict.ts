// `mvfa predict`: anomaly scores and maps for images with trained adapters (optionally with a few-shot memory bank).
import { type Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AugmentMode, augmentSupport, listImages } from '../../data/training-set.ts';
import { writeNpy } from '../../io/npy.ts';
import { type MedicalImageItem, loadMedicalImages, medicalRasterToTensor } from '../../io/medical-image.ts';
import { type RasterU8 } from '../../io/resample.ts';
import { loadAdapters } from '../../mvfa/checkpoint.ts';
import { fuseCalibrated, mean } from '../../mvfa/fusion.ts';
import { Mvfa } from '../../mvfa/mvfa.ts';
import { type GlobalOptions, FailureLog, UsageError, applyGlobal, expandInputs, log, parseIntOpt, parseLevels, progress, stem } from '../common.ts';
import { imageTensor, openClip, textFeaturesFor } from '../model-loading.ts';

interface PredictOpts extends GlobalOptions {
  clip?: string;
  adapters: string;
  organ?: string;
  support?: string;
  supportAugment: string;
  levels?: number[];
  imageSize?: number;
  dump?: string;
  out?: string;
  activation?: string;
  window?: string;
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
    .option('--image-size <n>', 'model input size (default: stored with the adapters, else 240)', parseIntOpt('--image-size', 14))
    .option('--dump <dir>', 'write raw maps: <stem>.zero_seg.npy, <stem>.few_seg.npy, <stem>.few_det.npy and scores.json')
    .option('--out <dir>', 'write results.json (calibrated scores) and heatmap overlays')
    .option('--activation <gelu|quickgelu>', 'GELU variant of the CLIP towers', 'gelu')
    .option('--window <auto|minmax|C,W>', "display window for DICOM and NIfTI (default: the file's window, or 0.5–99.5 percentiles)")
    .argument('<images...>', 'image files or folders (PNG, JPEG, TIFF, BMP, WebP, DICOM, NIfTI volumes: every axial slice is scored)')
    .addHelpText(
      'after',
      '\nExamples:\n  mvfa predict --adapters brain.safetensors --support few/good --out results scans/\n  mvfa predict --clip clip.pt --adapters Brain.pth --organ Brain --dump dumps test/*.png',
    )
    .action((images: string[], o: PredictOpts) =>
      run(async () => {
        applyGlobal(o);
        if (o.supportAugment !== 'none' && o.supportAugment !== 'mvfa')
          throw new UsageError(`--support-augment must be none or mvfa, got '${o.supportAugment}'`);
        const files = expandInputs(images);
        const { clip, path } = await openClip(o);
        const ck = await loadAdapters(o.adapters, o.levels);
        const organ = o.organ ?? ck.info.organ;
        if (!organ) throw new UsageError(`--organ is required: ${o.adapters} does not store an organ name`);
        const size = o.imageSize ?? (ck.info.imageSize ? Number(ck.info.imageSize) : 240);
        const model = new Mvfa(clip, ck.adapters, await textFeaturesFor(clip, path, organ), ck.calibration ?? null, { imageSize: size });
        if (o.support) {
          const sup = await Promise.all(listImages(o.support, 'support').map((p) => imageTensor(p, size)));
          await model.setSupport(augmentSupport(sup, size, o.supportAugment as AugmentMode));
          log(o.quiet, `memory bank: ${sup.length} support images${o.supportAugment === 'mvfa' ? ' ×11' : ''}`);
        }
        for (const d of [o.dump, o.out]) if (d) await mkdir(d, { recursive: true });
        const fails = new FailureLog();
        const scores: Record<string, Record<string, number>> = {};
        const results: { image: string; score: number | null; zero_det: number }[] = [];
        const bar = progress('predict', files.length, o.quiet || o.json);
        const volumes: Record<string, { slices: number; max: number; argmax: string }> = {};
        const window = parseWindow(o.window);
        for (const f of files) {
          let items: MedicalImageItem[];
          try {
            items = await loadMedicalImages(f, { dicomWindow: window, niftiWindow: window === 'minmax' ? 'auto' : window });
          } catch (e) {
            fails.add(f, e);
            bar.tick();
            continue;
          }
          for (const item of items) {
            try {
              const raw = await model.analyze(medicalRasterToTensor(item.raster, { size }));
              const s = items.length === 1 && item.format === 'raster' ? stem(f) : safeName(item.name);
              const entry: Record<string, number> = { zero_det: raw.zeroDet };
              if (raw.fewDet) entry.few_det = mean(raw.fewDet);
              let score: number | null = null;
              if (ck.calibration) {
                const fused = fuseCalibrated(raw, ck.calibration);
                score = fused.score;
                entry.score = score;
                if (o.out) await writeOverlayIfAvailable(item.raster, fused.map, size, join(o.out, `${s}.png`));
              }
              scores[s] = entry;
              const hash = item.name.indexOf('#');
              const shown = hash < 0 ? f : `${f}${item.name.slice(hash)}`;
              results.push({ image: shown, score, zero_det: raw.zeroDet });
              if (items.length > 1) {
                const v = (volumes[f] ??= { slices: 0, max: -Infinity, argmax: '' });
                const val = score ?? raw.zeroDet;
                v.slices++;
                if (val > v.max) {
                  v.max = val;
                  v.argmax = item.name;
                }
              }
              if (o.dump) {
                const sh = [size, size];
                await writeNpy(join(o.dump, `${s}.zero_seg.npy`), { dtype: 'float32', shape: sh, data: raw.zeroSeg }, { overwrite: true });
                if (raw.fewSeg) await writeNpy(join(o.dump, `${s}.few_seg.npy`), { dtype: 'float32', shape: sh, data: raw.fewSeg }, { overwrite: true });
                if (raw.fewDet) await writeNpy(join(o.dump, `${s}.few_det.npy`), { dtype: 'float32', shape: sh, data: raw.fewDet }, { overwrite: true });
              }
            } catch (e) {
              fails.add(item.name === f ? f : `${f} (${item.name})`, e);
            }
          }
          bar.tick();
        }
        bar.stop();
        if (o.dump) await writeFile(join(o.dump, 'scores.json'), `${JSON.stringify(scores, null, 1)}\n`);
        if (o.out)
          await writeFile(
            join(o.out, 'results.json'),
            `${JSON.stringify({ adapters: o.adapters, organ, results, volumes, failures: fails.failures }, null, 1)}\n`,
          );
        if (o.json) process.stdout.write(`${JSON.stringify({ results, volumes, failures: fails.failures })}\n`);
        else {
          for (const r of results) process.stdout.write(`${r.score === null ? r.zero_det.toFixed(6) : r.score.toFixed(6)}\t${r.image}\n`);
          for (const [f, v] of Object.entries(volumes)) process.stdout.write(`${v.max.toFixed(6)}\t${f} (max over ${v.slices} slices, at ${v.argmax})\n`);
        }
        fails.summary(files.length);
        await model.release();
        await clip.release();
        return fails.exitCode;
      }),
    );
}

function safeName(name: string): string {
  return name
    .replace(/\.nii(\.gz)?#/, '#')
    .replace(/\.(dcm|dicom)#/, '#')
    .replace(/[#=,]/g, '_')
    .replace(/\.(dcm|dicom|nii|nii\.gz)$/, '');
}

function parseWindow(w: string | undefined): 'auto' | 'minmax' | { center: number; width: number } {
  if (!w || w === 'auto') return 'auto';
  if (w === 'minmax') return 'minmax';
  const [c, wd] = w.split(',').map(Number);
  if (!Number.isFinite(c) || !(wd > 0)) throw new UsageError(`--window must be auto, minmax or CENTER,WIDTH, got '${w}'`);
  return { center: c, width: wd };
}

async function writeOverlayIfAvailable(image: RasterU8, map: Float32Array, size: number, out: string): Promise<void> {
  const { writeHeatmapPng } = await import('../../engine/heatmap.ts');
  await writeHeatmapPng(image, map, out);
}
