// Seeded mutation fuzzing of every reader: each mutated input must either parse into well-formed tensors or
// be rejected with a WeightFileError carrying a message; never a crash, a hang or a huge allocation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeNpy } from '../../../src/io/weights/npy.ts';
import { unpickle, type PyValue } from '../../../src/io/weights/pickle.ts';
import { decodeSafetensors } from '../../../src/io/weights/safetensors.ts';
import { WeightFileError, isHostTensor } from '../../../src/io/weights/tensor.ts';
import { decodeTorchStateDict } from '../../../src/io/weights/torch-file.ts';
import { StorageRef, torchFindGlobal } from '../../../src/io/weights/torch-globals.ts';
import { fixture, rng } from '../helpers.ts';

const ITERATIONS = 300;
const MAX_EXTRA_BYTES = 64 * 1024 * 1024;
const EXTREMES = [0xffffffff, 0x7fffffff, 0x80000000, 0, 0x7fff, 0xffff];

/** One random mutation: byte flips (biased towards headers and the zip directory), truncation, splice, or extreme ints. */
function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(rand() * n);
  const pos = (): number => {
    const r = rand();
    if (r < 0.35) return pick(Math.min(512, src.length));
    if (r < 0.6) return src.length - 1 - pick(Math.min(512, src.length));
    return pick(src.length);
  };
  const out = Uint8Array.from(src);
  switch (pick(4)) {
    case 0: {
      for (let i = 1 + pick(8); i > 0; i--) out[pos()] = pick(256);
      return out;
    }
    case 1:
      return out.subarray(0, pick(src.length));
    case 2: {
      const at = pos();
      const cut = pick(64);
      const insert = Uint8Array.from({ length: pick(64) }, () => pick(256));
      return Uint8Array.from([...out.subarray(0, at), ...insert, ...out.subarray(at + cut)]);
    }
    default: {
      const at = Math.max(0, Math.min(pos(), out.length - 4));
      new DataView(out.buffer).setUint32(at, EXTREMES[pick(EXTREMES.length)], rand() < 0.5);
      return out;
    }
  }
}

interface Outcome {
  parsed: number;
  rejected: number;
}

async function fuzz(name: string, seed: number, src: Uint8Array, parse: (b: Uint8Array) => Promise<void> | void): Promise<Outcome> {
  const rand = rng(seed);
  const outcome: Outcome = { parsed: 0, rejected: 0 };
  const base = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutate(src, rand);
    try {
      await parse(input);
      outcome.parsed++;
    } catch (e) {
      if (!(e instanceof WeightFileError) || !e.message) {
        assert.fail(`${name} #${i}: not a WeightFileError: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
      }
      outcome.rejected++;
    }
    const extra = process.memoryUsage().arrayBuffers - base;
    assert.ok(extra < MAX_EXTRA_BYTES, `${name} #${i}: ${extra} bytes of array buffers allocated`);
  }
  assert.ok(outcome.rejected > 0, `${name}: no mutation was rejected`);
  assert.ok(outcome.parsed > 0, `${name}: no mutation parsed (the fuzzer only exercises the first checks)`);
  return outcome;
}

function checkTensors(map: Map<string, unknown>): void {
  for (const [k, t] of map) assert.ok(isHostTensor(t), `malformed tensor ${k}`);
}

test('fuzz: safetensors', { timeout: 60_000 }, async () => {
  const src = readFileSync(fixture('sample.safetensors'));
  await fuzz('safetensors', 1, src, (b) => checkTensors(decodeSafetensors(b, 'fuzz.safetensors').tensors));
});

for (const [file, seed] of [
  ['torch_state_dict.pt', 2],
  ['torch_state_dict_legacy.pt', 3],
  ['torchscript_scripted.pt', 4],
] as const) {
  test(`fuzz: ${file}`, { timeout: 60_000 }, async () => {
    const src = readFileSync(fixture(file));
    await fuzz(file, seed, src, async (b) => checkTensors(await decodeTorchStateDict(b, file)));
  });
}

test('fuzz: raw pickle', { timeout: 60_000 }, async () => {
  // the object pickle of the legacy file (after magic number, protocol and system-info pickles)
  const legacy = readFileSync(fixture('torch_state_dict_legacy.pt'));
  const find = torchFindGlobal('fuzz.pkl');
  let start = 0;
  for (let i = 0; i < 3; i++) start = unpickle(legacy, { file: 'x', findGlobal: find }, start).end;
  // storages are only described here, never loaded
  const storages = (pid: PyValue): PyValue => {
    const numel = Array.isArray(pid) && typeof pid[4] === 'number' ? pid[4] : 0;
    return new StorageRef('float32', 'k', numel, () => new Float32Array(0));
  };
  const src = legacy.subarray(start, unpickle(legacy, { file: 'x', findGlobal: find, persistentLoad: storages }, start).end);
  await fuzz('pickle', 5, src, (b) => {
    unpickle(b, { file: 'fuzz.pkl', findGlobal: find, persistentLoad: storages });
  });
});

test('fuzz: npy', { timeout: 60_000 }, async () => {
  for (const [name, seed] of [
    ['f4.npy', 6],
    ['fortran_f4.npy', 7],
    ['big_i8.npy', 8],
  ] as const) {
    await fuzz(name, seed, readFileSync(fixture('npy', name)), (b) => {
      assert.ok(isHostTensor(decodeNpy(b, name)));
    });
  }
});
