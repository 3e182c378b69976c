// Where committed reference outputs live. `npm test` reads the committed copies in fixtures/; the reference suite
// (`npm run test:reference`) regenerates every set with live Python into a temporary copy and points MVFA_FIXTURES
// at it, so the same tests then check the code against freshly computed references.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, resolved from this file (never from the working directory). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Path of a fixture file or folder: fixture('clip', 'ref.json'). */
export function fixture(...parts: string[]): string {
  return join(process.env.MVFA_FIXTURES ?? join(REPO, 'fixtures'), ...parts);
}

/** True when the reference suite runs with live Python (`npm run test:reference`). */
export const LIVE_REFERENCE = process.env.MVFA_REFERENCE === 'live';
