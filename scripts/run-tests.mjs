#!/usr/bin/env node
// Runs the test/**/*.test.ts files with node's built-in test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [--reference] [substring-filter ...]
// Files named *.reference.test.ts need live Python (scripts/references.mjs check runs them with --reference);
// `npm test` leaves them out and needs Node alone.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const reference = args.includes('--reference');
const filters = args.filter((a) => a !== '--reference');
const files = walk(join(repo, 'test'))
  .map((f) => relative(repo, f))
  .filter((f) => reference || !f.endsWith('.reference.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { cwd: repo, stdio: 'inherit' });
process.exit(r.status ?? 1);
