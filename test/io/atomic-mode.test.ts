// File modes of the atomic writer (#12 hole 12): a replaced file keeps its permission bits (a private 0600 file stays
// private), a new file gets the usual 0666 less the umask (or the mode asked for).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeFileAtomic } from '../../src/io/atomic-write.ts';

const dir = mkdtempSync(join(tmpdir(), 'mvfa-atomic-mode-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string): number => statSync(p).mode & 0o7777;

test('a replaced file keeps its permission bits (0600, 0640, 0755)', async (t) => {
  if (process.platform === 'win32') return t.skip('POSIX permission bits');
  for (const bits of [0o600, 0o640, 0o755]) {
    const p = join(dir, `keep-${bits.toString(8)}`);
    writeFileSync(p, 'old');
    chmodSync(p, bits);
    await writeFileAtomic(p, Buffer.from('new'), { overwrite: true });
    assert.equal(readFileSync(p, 'utf8'), 'new');
    assert.equal(mode(p).toString(8), bits.toString(8));
  }
});

test('a new file gets 0666 less the umask, or the mode asked for less the umask', async (t) => {
  if (process.platform === 'win32') return t.skip('POSIX permission bits');
  const old = process.umask(0o022);
  try {
    const a = join(dir, 'new-default');
    await writeFileAtomic(a, Buffer.from('x'));
    assert.equal(mode(a).toString(8), '644');
    process.umask(0o077);
    const b = join(dir, 'new-private-umask');
    await writeFileAtomic(b, Buffer.from('x'));
    assert.equal(mode(b).toString(8), '600');
    process.umask(0o022);
    const c = join(dir, 'new-asked');
    await writeFileAtomic(c, Buffer.from('x'), { mode: 0o600 });
    assert.equal(mode(c).toString(8), '600');
  } finally {
    process.umask(old);
  }
});
