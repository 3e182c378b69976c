// Where derived data (text features) is cached: $MVFA_CACHE, else $XDG_CACHE_HOME/mvfa, else ~/.cache/mvfa.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(): string {
  return process.env.MVFA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mvfa');
}
