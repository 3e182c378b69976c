// The server's private folder for uploaded patient images: `<parent>/mvfa-serve-<pid>-XXXXXX`, mode 0700. It is
// removed when the server closes and when the process exits; folders left behind by a process that was killed
// (its pid no longer runs) are removed at the next start.
import { rmSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const PREFIX = 'mvfa-serve-';
const NAME = /^mvfa-serve-(\d+)-[A-Za-z0-9]{6}$/;

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the scratch folders in `parent` that belong to this user and to processes that no longer run. */
export async function removeStaleScratch(parent: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m || Number(m[1]) === process.pid || running(Number(m[1]))) continue;
    const path = join(parent, name);
    try {
      const st = await lstat(path);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

export class ScratchDir {
  private removed = false;
  private readonly onExit = (): void => {
    rmSync(this.path, { recursive: true, force: true });
  };

  private constructor(readonly path: string) {
    process.on('exit', this.onExit);
  }

  /** Cleans up what killed processes left in `parent`, then makes this process's folder there. */
  static async create(parent: string): Promise<{ scratch: ScratchDir; stale: string[] }> {
    const stale = await removeStaleScratch(parent);
    const path = await mkdtemp(join(parent, `${PREFIX}${process.pid}-`));
    return { scratch: new ScratchDir(path), stale };
  }

  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    process.off('exit', this.onExit);
    await rm(this.path, { recursive: true, force: true });
  }
}
