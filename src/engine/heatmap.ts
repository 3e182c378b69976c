// Heatmap overlays of fused maps. Both fusion rules give maps of about 0..1, so one fixed colour scale (0..1)
// makes colours comparable across images and runs.
import { type RasterU8 } from '../io/image/resample.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { heatmapOverlay } from '../report/overlay.ts';

export const HEATMAP_RANGE = { min: 0, max: 1 } as const;

/** PNG of `map` (jet, half transparent) over the image. */
export function heatmapPng(image: string | RasterU8, map: Float32Array): Promise<Buffer> {
  return heatmapOverlay({ image, map, range: HEATMAP_RANGE, alpha: 0.5 });
}

/** Writes the overlay atomically (an existing file is replaced: heatmaps are outputs of this run). */
export async function writeHeatmapPng(image: string | RasterU8, map: Float32Array, out: string): Promise<void> {
  await writeFileAtomic(out, [await heatmapPng(image, map)], { overwrite: true });
}
