// Names of a scored file's outputs (heatmap <name>.png, dump <name>.zero_seg.npy …) and the --window option, as
// `mvfa predict` spells them; the queue workers write the same names.
import { type MedicalImageItem } from '../io/medical/medical-image.ts';
import { basename, extname } from 'node:path';
import { RefusedInputError } from '../util/errors.ts';

/** File name without its extension (`.nii.gz` counts as one). */
export function stem(p: string): string {
  const b = basename(p);
  if (b.toLowerCase().endsWith('.nii.gz')) return b.slice(0, -7);
  const e = extname(b);
  return e ? b.slice(0, -e.length) : b;
}

/** A volume slice's or DICOM frame's name made file-safe (`scan.nii.gz#z=042` → `scan_z_042`). */
export function safeName(name: string): string {
  return name
    .replace(/\.nii(\.gz)?#/, '#')
    .replace(/\.(dcm|dicom)#/, '#')
    .replace(/[#=,]/g, '_')
    .replace(/\.(dcm|dicom|nii|nii\.gz)$/, '');
}

/** Output name of one image of a file: the file's stem, or a name built from the slice/frame for volumes. */
export function dumpName(file: string, item: MedicalImageItem, items: number): string {
  return items === 1 && item.format === 'raster' ? stem(file) : safeName(item.name);
}

export type WindowOption = 'auto' | 'minmax' | { center: number; width: number };

export class WindowOptionError extends RefusedInputError {
  override readonly name = 'WindowOptionError';
}

export function parseWindow(w: string | undefined): WindowOption {
  if (!w || w === 'auto') return 'auto';
  if (w === 'minmax') return 'minmax';
  const [c, wd] = w.split(',').map(Number);
  if (!Number.isFinite(c) || !(wd > 0)) throw new WindowOptionError(`--window must be auto, minmax or CENTER,WIDTH, got '${w}'`);
  return { center: c, width: wd };
}
