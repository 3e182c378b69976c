// The layers of src/ (README "Layout"): imports only point down the chain
//   util ← graph ← io ← clip ← mvfa ← data, eval, report, hub ← engine ← cli, web
// (folders on one step may import each other, as long as no two of them import each other in a cycle).
// util/ may be imported by every layer and imports nothing outside itself; src/*.ts (the public entry points)
// may import anything and nothing imports them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { test } from 'node:test';
import { REPO } from './support/fixtures.ts';

const STEPS: readonly (readonly string[])[] = [['util'], ['graph'], ['io'], ['clip'], ['mvfa'], ['data', 'eval', 'report', 'hub'], ['engine'], ['cli', 'web']];
const RANK = new Map(STEPS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
}

/** The folder under src/ of a path relative to the repository ('' for src/*.ts). */
function layerOf(path: string): string {
  const parts = path.split('/');
  return parts.length > 2 ? parts[1] : '';
}

test('every import in src/ points down the layers', () => {
  const wrong: string[] = [];
  const lateral = new Map<string, Set<string>>();
  for (const abs of sources(join(REPO, 'src'))) {
    const file = relative(REPO, abs).split('\\').join('/');
    const from = layerOf(file);
    for (const spec of importsOf(readFileSync(abs, 'utf8'))) {
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      const to = layerOf(target);
      if (from === to || from === '') continue;
      const a = RANK.get(from);
      const b = RANK.get(to);
      assert.ok(a !== undefined, `${file}: src/${from}/ is not in the layer list of this test`);
      if (b === undefined || b > a) wrong.push(`${file} imports ${target}`);
      else if (b === a) lateral.set(from, (lateral.get(from) ?? new Set()).add(to));
    }
  }
  for (const [a, tos] of lateral) for (const b of tos) if (lateral.get(b)?.has(a)) wrong.push(`src/${a}/ and src/${b}/ import each other`);
  assert.deepEqual(wrong, [], `imports against the layers:\n${wrong.join('\n')}`);
});

test('the import parser sees every kind of relative import', () => {
  const text = [
    "import { a } from '../io/weights/tensor.ts';",
    "import type { B } from './b.ts';",
    "export { c } from '../clip/c.ts';",
    "const d = await import('../engine/d.ts');",
    "import 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf(text), ['../io/weights/tensor.ts', './b.ts', '../clip/c.ts', '../engine/d.ts']);
});
