// One entry point for weight files: the format is chosen by the file's leading bytes; the extension only
// decides which reader explains the failure when the bytes match no format.
import { closeSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { locateSafetensors, readSafetensors } from './safetensors.ts';
import { MAX_HEADER_BYTES } from './safetensors-header.ts';
import { WeightFileError, type HostTensor } from './tensor.ts';
import { readTorchStateDict } from './torch-file.ts';

export type WeightFormat = 'safetensors' | 'torch-zip' | 'torch-pickle' | 'npy' | 'unknown';

function readHead(path: string, n: number): { head: Uint8Array; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new WeightFileError(path, `cannot open: ${(e as Error).message}`, undefined, { cause: e });
  }
  try {
    const head = new Uint8Array(n);
    const got = readSync(fd, head, 0, n, 0);
    return { head: head.subarray(0, got), size: got };
  } finally {
    closeSync(fd);
  }
}

/** Identifies a weight file from its first bytes. */
export function sniffWeightFormat(head: Uint8Array): WeightFormat {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) return 'torch-zip';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 5 && head[3] === 6) return 'torch-zip';
  if (head.length >= 6 && head[0] === 0x93 && String.fromCharCode(...head.subarray(1, 6)) === 'NUMPY') return 'npy';
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'torch-pickle';
  if (head.length >= 9) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(MAX_HEADER_BYTES) && head[8] === 0x7b) return 'safetensors';
  }
  return 'unknown';
}

const TORCH_EXTS = new Set(['.pt', '.pth', '.bin', '.ckpt', '.pkl', '.tar']);

/**
 * Loads a weight file as `name → tensor`: safetensors, PyTorch zip / TorchScript / legacy files (nested dicts
 * flattened with '.'). Nothing in the file is executed. `locate`: a safetensors file's tensors are only located,
 * each read when its data is first used (see `locateSafetensors`); other formats are read at once.
 */
export async function loadWeights(path: string, options: { locate?: boolean } = {}): Promise<Map<string, HostTensor>> {
  const { head } = readHead(path, 16);
  const format = sniffWeightFormat(head);
  const ext = extname(path).toLowerCase();
  switch (format) {
    case 'safetensors':
      return options.locate ? locateSafetensors(path) : readSafetensors(path);
    case 'torch-zip':
    case 'torch-pickle':
      return readTorchStateDict(path);
    case 'npy':
      throw new WeightFileError(path, 'this is a single .npy array, not a weight file (read it with readNpy)');
    case 'unknown':
      // Let the reader the extension points to explain what is wrong with the file.
      if (ext === '.safetensors') return readSafetensors(path);
      if (TORCH_EXTS.has(ext)) return readTorchStateDict(path);
      throw new WeightFileError(
        path,
        `unknown weight file format (first bytes ${Buffer.from(head.subarray(0, 8)).toString('hex') || 'none: empty file'}); ` +
          'expected safetensors or a PyTorch file (zip archive or pickle)',
      );
  }
}
