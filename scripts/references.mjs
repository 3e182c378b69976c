#!/usr/bin/env node
// Python reference outputs that `npm test` compares against are committed under fixtures/. Each set is a folder with a
// `regenerate.json` that says how it was made:
//   { "command": ["scripts/fixtures/x.py", "{out}", "--flag"], "modules": ["numpy", "torch"] }
// ({out} is the set's folder; "commands": [[...], [...]] runs several in turn). Regenerating writes `versions.json` beside it: the exact command line, the Python and
// library versions, and the date.
//
//   node scripts/references.mjs regenerate [SET...]   rewrite the committed sets (after changing a script)
//   node scripts/references.mjs check                 regenerate every set with live Python into a temporary copy of
//                                                      fixtures/, report what differs from the committed files, then run
//                                                      the whole suite (with the *.reference.test.ts files) against it
// Python: $MVFA_PYTHON, else python3 on PATH.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const python = process.env.MVFA_PYTHON ?? 'python3';

function findSets(root) {
  return listFiles(root)
    .filter((f) => basename(f) === 'regenerate.json')
    .map((f) => dirname(f));
}

function versions(modules) {
  const code = [
    'import importlib, json, sys',
    `mods = ${JSON.stringify(modules)}`,
    'out = {"python": sys.version.split()[0]}',
    'for m in mods:',
    '    try: out[m] = getattr(importlib.import_module(m), "__version__", "?")',
    '    except Exception as e: out[m] = "missing: " + str(e)',
    'print(json.dumps(out))',
  ].join('\n');
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${python} is required to regenerate references: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout);
}

function regenerate(setDir, label) {
  const spec = JSON.parse(readFileSync(join(setDir, 'regenerate.json'), 'utf8'));
  const commands = spec.commands ?? [spec.command];
  const t0 = Date.now();
  for (const command of commands) {
    const args = command.map((a) => a.replaceAll('{out}', setDir));
    const r = spawnSync(python, args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'], maxBuffer: 64 << 20 });
    if (r.error || r.status !== 0) throw new Error(`${label}: ${python} ${args.join(' ')} failed:\n${r.error?.message ?? r.stderr}`);
  }
  const record = {
    commands: commands.map((c) => ['python3', ...c.map((a) => a.replaceAll('{out}', label))].join(' ')),
    versions: versions(spec.modules ?? ['numpy']),
    date: new Date().toISOString().slice(0, 10),
  };
  writeFileSync(join(setDir, 'versions.json'), JSON.stringify(record, null, 2) + '\n');
  console.log(`regenerated ${label} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

function compareSets(committedRoot, freshRoot) {
  let same = 0;
  const differ = [];
  for (const f of listFiles(freshRoot)) {
    const rel = relative(freshRoot, f);
    if (rel.endsWith('versions.json')) continue;
    const c = join(committedRoot, rel);
    if (!existsSync(c)) differ.push(`${rel} (new)`);
    else if (Buffer.compare(readFileSync(c), readFileSync(f)) === 0) same++;
    else differ.push(rel);
  }
  console.log(`reference files: ${same} identical to the committed copies, ${differ.length} differ (the tests below decide whether within tolerance)`);
  for (const d of differ) console.log(`  differs: ${d}`);
}

const [cmd = 'check', ...names] = process.argv.slice(2);
const fixtures = join(repo, 'fixtures');
if (cmd === 'regenerate') {
  const sets = findSets(fixtures).filter((s) => names.length === 0 || names.some((n) => relative(fixtures, s).includes(n)));
  for (const s of sets) regenerate(s, relative(repo, s));
} else if (cmd === 'check') {
  const tmp = mkdtempSync(join(tmpdir(), 'mvfa-references-'));
  const fresh = join(tmp, 'fixtures');
  cpSync(fixtures, fresh, { recursive: true });
  let status = 1;
  try {
    for (const s of findSets(fresh)) regenerate(s, relative(tmp, s));
    compareSets(fixtures, fresh);
    const r = spawnSync(process.execPath, [join(repo, 'scripts/run-tests.mjs'), '--reference', ...names], {
      cwd: repo,
      stdio: 'inherit',
      env: { ...process.env, MVFA_FIXTURES: fresh, MVFA_REFERENCE: 'live', MVFA_PYTHON: python },
    });
    status = r.status ?? 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(status);
} else {
  console.error('usage: node scripts/references.mjs regenerate [SET...] | check [TEST-FILTER...]');
  process.exit(2);
}
