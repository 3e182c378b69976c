// Names `mvfa predict` gives a file's outputs (heatmap PNG, dump .npy), and its --window option.
import { type MedicalImageItem } from '../../io/medical-image.ts';
import { basename, extname } from 'node:path';

function stem(p: string): string {
  const b = basename(p);
  if (b.toLowerCase().endsWith('.nii.gz')) return b.slice(0, -7);
  const e = extname(b);
  return e ? b.slice(0, -e.length) : b;
}

function safeName(name: string): string {
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

export function parseWindow(w: string | undefined): WindowOption {
  if (!w || w === 'auto') return 'auto';
  if (w === 'minmax') return 'minmax';
  const [c, wd] = w.split(',').map(Number);
  if (!Number.isFinite(c) || !(wd > 0)) throw new Error(`--window must be auto, minmax or CENTER,WIDTH, got '${w}'`);
  return { center: c, width: wd };
}
