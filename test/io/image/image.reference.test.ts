// Live Pillow check (reference suite only, `npm run test:reference`): Pillow decodes the PNGs encodePng writes to
// the very pixels that were encoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { encodePng } from '../../../src/io/image/image.ts';
import { REPO } from '../../support/fixtures.ts';
import { runPython } from '../../support/python.ts';
import { makeTempDir } from './image-pyref.ts';

test('Pillow reads what encodePng writes (grey and RGB)', async () => {
  const { dir, cleanup } = makeTempDir();
  try {
    const w = 19;
    const h = 7;
    const grey = new Uint8Array(w * h).map((_, i) => (i * 37) & 255);
    const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 101) & 255);
    await encodePng(grey, w, h, 1, join(dir, 'g.png'));
    writeFileSync(join(dir, 'c.png'), await encodePng(rgb, w, h, 3));
    const jobs = [
      { op: 'raw', src: join(dir, 'g.png'), mode: 'L', out: join(dir, 'g.raw') },
      { op: 'raw', src: join(dir, 'c.png'), out: join(dir, 'c.raw') },
    ];
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify(jobs));
    const out = JSON.parse(
      runPython(join(REPO, 'scripts/fixtures/image_pil_ref.py'), [join(dir, 'jobs.json')])
        .trim()
        .split('\n')
        .pop() ?? '{}',
    ) as {
      results: { size: number[] }[];
    };
    assert.deepEqual(
      out.results.map((r) => r.size),
      [
        [w, h],
        [w, h],
      ],
    );
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'g.raw'))), grey);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'c.raw'))), rgb);
  } finally {
    cleanup();
  }
});
