// What an uploaded file is: the declared content type must be one of the image types (or a generic one), and
// the first bytes must be those of PNG, JPEG, TIFF, BMP, WebP or DICOM. Upload names are cleaned for display.
import { HttpError } from './http.ts';

export type ImageKind = 'png' | 'jpeg' | 'tiff' | 'bmp' | 'webp' | 'dicom';

export const KIND_LABEL: Readonly<Record<ImageKind, string>> = { png: 'PNG', jpeg: 'JPEG', tiff: 'TIFF', bmp: 'BMP', webp: 'WebP', dicom: 'DICOM' };

/** File extension used when an upload is stored for training. */
export const KIND_EXT: Readonly<Record<ImageKind, string>> = { png: '.png', jpeg: '.jpg', tiff: '.tif', bmp: '.bmp', webp: '.webp', dicom: '.dcm' };

/** Declared types accepted for uploads: the image types, DICOM, and the types browsers use for unknown files. */
const DECLARED: ReadonlyMap<string, ImageKind | null> = new Map<string, ImageKind | null>([
  ['image/png', 'png'],
  ['image/x-png', 'png'],
  ['image/apng', 'png'],
  ['image/jpeg', 'jpeg'],
  ['image/jpg', 'jpeg'],
  ['image/pjpeg', 'jpeg'],
  ['image/tiff', 'tiff'],
  ['image/bmp', 'bmp'],
  ['image/x-bmp', 'bmp'],
  ['image/x-ms-bmp', 'bmp'],
  ['image/webp', 'webp'],
  ['application/dicom', 'dicom'],
  ['application/octet-stream', null],
  ['', null],
]);

export const ACCEPTED_TYPES: readonly string[] = [...DECLARED.keys()].filter((t) => t !== '');

function ascii(b: Uint8Array, at: number, s: string): boolean {
  if (b.length < at + s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** The image format from the first bytes, or null. */
export function sniffImage(b: Uint8Array): ImageKind | null {
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 'PNG\r\n\x1a\n')) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(b, 0, 'II') && b.length >= 4 && (b[2] === 42 || b[2] === 43) && b[3] === 0) return 'tiff';
  if (ascii(b, 0, 'MM') && b.length >= 4 && b[2] === 0 && (b[3] === 42 || b[3] === 43)) return 'tiff';
  if (ascii(b, 0, 'BM') && b.length >= 26) return 'bmp';
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) return 'webp';
  if (ascii(b, 128, 'DICM')) return 'dicom';
  return null;
}

/** Is this declared type (parameters ignored) acceptable for an image upload? */
export function acceptedType(declared: string): boolean {
  return DECLARED.has(declared.split(';')[0].trim().toLowerCase());
}

/**
 * Checks an upload's declared type and its content; throws 415 naming the file. A declared image type and a
 * different detected image format are accepted (the content decides how it is decoded).
 */
export function checkImageUpload(name: string, declared: string, data: Uint8Array): ImageKind {
  const type = declared.split(';')[0].trim().toLowerCase();
  const list = 'PNG, JPEG, TIFF, BMP, WebP or DICOM';
  if (!DECLARED.has(type)) throw new HttpError(415, `${name}: files of type '${type}' are not accepted; send a ${list} image`);
  if (data.length === 0) throw new HttpError(400, `${name}: the file is empty`);
  const kind = sniffImage(data);
  if (!kind) throw new HttpError(415, `${name}: this file is not a ${list} image (its content does not start like one)`);
  return kind;
}

/** A file name safe to show and to use inside a folder: base name only, plain characters, bounded length. */
export function cleanName(raw: string | undefined, fallback = 'image'): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const clean = base
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .replace(/[^\p{L}\p{N}._ ()+-]/gu, '_')
    .replace(/^\.+/, '')
    .trim();
  const out = clean.slice(0, 120);
  return out.length > 0 ? out : fallback;
}

/** The name without its extension. */
export function stemOf(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(0, i) : name;
}
