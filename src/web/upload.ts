// Reading uploads: multipart/form-data through busboy, or a raw image body. Sizes, counts and time are bounded.
import { type IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { HttpError, checkDeclaredLength, formatBytes, mediaType, queryOf, readBody, tooLarge } from './http.ts';
import { acceptedType, cleanName } from './sniff.ts';

export interface UploadedFile {
  /** Form field the file came in. */
  field: string;
  /** Cleaned file name (base name only). */
  name: string;
  /** Declared content type. */
  type: string;
  data: Buffer;
}

export interface UploadForm {
  fields: Map<string, string>;
  files: UploadedFile[];
}

export interface FormLimits {
  /** Largest accepted file. */
  fileBytes: number;
  /** Largest accepted request body. */
  totalBytes: number;
  /** Most files in one request. */
  files: number;
  /** Names of the file fields accepted (others are a 400). */
  fileFields: readonly string[];
  /** Names of the text fields accepted (others are ignored). */
  fields: readonly string[];
  timeoutMs: number;
}

/** Parses a multipart/form-data request into its text fields and files (kept in memory). */
export function parseMultipart(req: IncomingMessage, limits: FormLimits): Promise<UploadForm> {
  if (mediaType(req) !== 'multipart/form-data') throw new HttpError(415, 'send the files as multipart/form-data');
  checkDeclaredLength(req, limits.totalBytes);
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      limits: { fileSize: limits.fileBytes, files: limits.files, fields: 32, fieldSize: 4096, parts: limits.files + 32, headerPairs: 64 },
    });
  } catch (e) {
    throw new HttpError(400, `malformed multipart upload: ${(e as Error).message}`);
  }
  return new Promise((resolve, reject) => {
    const fields = new Map<string, string>();
    const files: UploadedFile[] = [];
    let total = 0;
    let settled = false;
    const fail = (e: HttpError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.unpipe(bb);
      bb.removeAllListeners();
      bb.on('error', () => {});
      req.resume(); // the rest of the body is read and discarded
      reject(e);
    };
    const timer = setTimeout(() => fail(new HttpError(408, `the upload did not arrive within ${Math.round(limits.timeoutMs / 1000)} s`)), limits.timeoutMs);
    bb.on('file', (field, stream, info) => {
      const name = cleanName(info.filename, field);
      if (!limits.fileFields.includes(field)) {
        stream.resume();
        fail(new HttpError(400, `unexpected file field '${cleanName(field)}' (expected ${limits.fileFields.join(', ')})`));
        return;
      }
      if (!acceptedType(info.mimeType ?? '')) {
        stream.resume();
        fail(new HttpError(415, `${name}: files of type '${cleanName(info.mimeType)}' are not accepted; send a PNG, JPEG, TIFF, BMP, WebP or DICOM image`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        total += c.length;
        if (total > limits.totalBytes) fail(tooLarge(limits.totalBytes));
        else chunks.push(c);
      });
      stream.on('limit', () => fail(tooLarge(limits.fileBytes, name)));
      stream.on('end', () => {
        if (!settled) files.push({ field, name, type: info.mimeType ?? '', data: Buffer.concat(chunks, size) });
      });
    });
    bb.on('field', (name, value) => {
      if (limits.fields.includes(name)) fields.set(name, value);
    });
    bb.on('filesLimit', () =>
      fail(limits.files === 1 ? new HttpError(400, 'send one image per request') : new HttpError(413, `too many files in one upload: at most ${limits.files}`)),
    );
    bb.on('partsLimit', () => fail(new HttpError(413, 'too many parts in one upload')));
    bb.on('fieldsLimit', () => fail(new HttpError(413, 'too many form fields in one upload')));
    bb.on('error', (e: Error) => fail(new HttpError(400, `malformed multipart upload: ${e.message}`)));
    bb.on('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ fields, files });
    });
    req.on('aborted', () => fail(new HttpError(400, 'the upload broke off')));
    req.pipe(bb);
  });
}

/** A raw image body (Content-Type an image type, application/dicom or application/octet-stream); name from ?name=. */
export async function readRawImage(req: IncomingMessage, limit: number, timeoutMs: number): Promise<UploadedFile> {
  const type = mediaType(req);
  if (!acceptedType(type) || type === '')
    throw new HttpError(415, `requests of type '${cleanName(type) || 'none'}' are not accepted; send an image body or multipart/form-data`);
  const q = queryOf(req.url ?? '');
  const name = cleanName(q.get('name') ?? undefined, 'upload');
  let data: Buffer;
  try {
    data = await readBody(req, limit, timeoutMs);
  } catch (e) {
    if (e instanceof HttpError && e.status === 413) throw tooLarge(limit, name);
    throw e;
  }
  return { field: 'image', name, type, data };
}

export function describeLimits(l: Pick<FormLimits, 'fileBytes' | 'totalBytes' | 'files'>): string {
  return `files up to ${formatBytes(l.fileBytes)}, ${l.files} files and ${formatBytes(l.totalBytes)} per upload`;
}
