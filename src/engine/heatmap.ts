// Heatmap overlays for predictions (one shared scale: calibrated maps are ~[0, 1]).
import { heatmapOverlay } from '../report/overlay.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { type RasterU8 } from '../io/resample.ts';

export async function writeHeatmapPng(image: string | RasterU8, map: Float32Array, _size: number, out: string): Promise<void> {
  const png = await heatmapOverlay({ image, map, range: { min: 0, max: 1 } });
  await writeFileAtomic(out, [png], { overwrite: true });
}
