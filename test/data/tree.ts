// Builds small dataset folders for the data-layer tests (file contents are never decoded).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function tempRoot(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mvfa-data-${prefix}-`));
}

/** Creates every listed file (relative to root; a trailing '/' makes an empty folder). */
export function makeTree(root: string, files: readonly string[]): void {
  for (const f of files) {
    if (f.endsWith('/')) {
      mkdirSync(join(root, f), { recursive: true });
      continue;
    }
    const p = join(root, f);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, 'x');
  }
}

/** Files of a complete MVFA-layout split with masks for every abnormal image. */
export function mvfaSplit(split: string, normals: readonly string[], abnormals: readonly string[], masks = true): string[] {
  const out = normals.map((n) => `${split}/good/img/${n}`);
  for (const a of abnormals) {
    out.push(`${split}/Ungood/img/${a}`);
    if (masks) out.push(`${split}/Ungood/anomaly_mask/${a}`);
  }
  return out;
}
