// Committed PyTorch references of scripts/fixtures/clip_ref.py (fixtures/clip-ref/*) and helpers to compare with them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type HostTensor } from '../../src/io/weights/tensor.ts';
import { fixture } from '../support/fixtures.ts';

export interface ClipRef {
  layout: {
    vwidth: number;
    vlayers: number;
    patch: number;
    grid: number;
    twidth: number;
    tlayers: number;
    vocab: number;
    embed: number;
    seed: number;
    vision_heads: number;
  };
  image_size: number;
  n_images: number;
  n_texts: number;
  image_embeddings: number[];
  text_embeddings: number[];
  weights_sha256: Record<string, string>;
}

export function clipRef(set: string): ClipRef {
  return JSON.parse(readFileSync(fixture('clip-ref', set, 'ref.json'), 'utf8')) as ClipRef;
}

/** A little-endian binary fixture as a typed array (copied out of Node's shared pool). */
export function bin<T>(file: string, ctor: new (b: ArrayBuffer) => T): T {
  return new ctor(Uint8Array.from(readFileSync(file)).buffer);
}

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, `lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Names of tensors whose float32 bytes differ from the reference digests (missing or extra names count too). */
export function digestMismatches(tensors: Map<string, HostTensor | { data: Float32Array }>, digests: Record<string, string>): string[] {
  const bad: string[] = [];
  for (const [k, t] of tensors) {
    const d = t.data as Float32Array;
    const h = createHash('sha256')
      .update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
      .digest('hex');
    if (h !== digests[k]) bad.push(k);
  }
  for (const k of Object.keys(digests)) if (!tensors.has(k)) bad.push(`${k} (missing)`);
  return bad;
}
