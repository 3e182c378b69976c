// Uploaded bytes → RGB raster (ordinary images through the image decoder, DICOM through the DICOM reader), the
// model's input tensor, and the heatmap overlay PNG (at the image's aspect, longer side bounded). Image sizes are
// read from the headers and bounded before anything is decoded.
import sharp from 'sharp';
import { dicomToRaster } from '../io/medical/dicom.ts';
import { readDicomIsolated } from '../io/medical/dicom-isolated.ts';
import { bmpSize } from '../io/image/image-bmp.ts';
import { ImageDecodeError, loadImageRgb8 } from '../io/image/image.ts';
import { resizeUint8, type RasterU8 } from '../io/image/resample.ts';
import { MAX_IMAGE_PIXELS } from '../io/medical/medical-image.ts';
import { type RangeSpec } from '../report/colormap.ts';
import { heatmapOverlay, rasterToRgb } from '../report/overlay.ts';
import { HttpError } from './http.ts';
import { type ImageKind } from './sniff.ts';

/** Longest side of overlay images sent back (larger images are shown scaled down, aspect kept). */
export const OVERLAY_MAX_SIDE = 1024;

/** Width and height from the file's header (nothing is decoded). Errors name the file. */
export async function headerSize(name: string, kind: ImageKind, data: Uint8Array): Promise<{ width: number; height: number }> {
  try {
    if (kind === 'bmp') return bmpSize(data);
    if (kind === 'dicom') {
      const d = await readDicomIsolated(data, { name, dtype: 'float32', frame: 'none' });
      return { width: d.columns, height: d.rows };
    }
    const m = await sharp(data, { limitInputPixels: false, failOn: 'error' }).metadata();
    if (!m.width || !m.height) throw new Error('image has no dimensions');
    return { width: m.width, height: m.height };
  } catch (e) {
    if (e instanceof Error && e.name === 'DicomError') throw e;
    throw new ImageDecodeError(name, (e as Error).message.replace(/\s+/g, ' ').trim());
  }
}

/** 413 for images with more pixels than `limit`. */
export async function checkUploadPixels(name: string, kind: ImageKind, data: Uint8Array, limit = MAX_IMAGE_PIXELS): Promise<void> {
  const { width, height } = await headerSize(name, kind, data);
  if (width * height > limit) {
    throw new HttpError(413, `${name}: the image is too large (${width}×${height} pixels; at most ${(limit / 1e6).toFixed(0)} megapixels are accepted)`);
  }
}

/** Decodes an upload to interleaved 8-bit RGB (first frame of a DICOM file, windowed). Errors name the file. */
export async function decodeUpload(name: string, kind: ImageKind, data: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): Promise<RasterU8> {
  if (kind === 'dicom') {
    const head = await readDicomIsolated(data, { name, dtype: 'float32', frame: 'none' });
    if (head.rows * head.columns > maxPixels) throw new HttpError(413, `${name}: the image is too large (${head.columns}×${head.rows} pixels)`);
    return rasterToRgb(dicomToRaster(await readDicomIsolated(data, { name, dtype: 'float32', maxPixels })));
  }
  return loadImageRgb8(data, { name, maxPixels });
}

/** The raster scaled down so its longer side is at most `maxSide` (aspect kept), or itself. */
export function displayRaster(rgb: RasterU8, maxSide = OVERLAY_MAX_SIDE): RasterU8 {
  const long = Math.max(rgb.width, rgb.height);
  if (long <= maxSide) return rgb;
  const f = maxSide / long;
  return resizeUint8(rgb, Math.max(1, Math.round(rgb.width * f)), Math.max(1, Math.round(rgb.height * f)), 'bilinear');
}

/** Heatmap (jet, half transparent) over the image. Calibrated maps use the fixed range 0..1 so colours compare across images. */
export function overlayPng(rgb: RasterU8, map: Float32Array, calibrated: boolean): Promise<Buffer> {
  const range: RangeSpec = calibrated ? { min: 0, max: 1 } : 'auto';
  return heatmapOverlay({ image: displayRaster(rgb), map, range, alpha: 0.5 });
}
