// MVFA text features: per state group, the mean of L2-normalised sentence embeddings, renormalised → [2, D].
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { type ClipModel, l2normalizeRows } from './model.ts';
import { type PromptVariant, anomalyPrompts } from './prompts.ts';
import { ClipTokenizer } from './tokenizer.ts';

let tokenizer: ClipTokenizer | null = null;
function getTokenizer(): ClipTokenizer {
  tokenizer ??= ClipTokenizer.load();
  return tokenizer;
}

/** Embeddings of sentences, [N, D], computed in batches of at most `batch`. */
export async function encodeSentences(model: ClipModel, sentences: readonly string[], batch = 512): Promise<Float32Array> {
  const ctx = model.config.text?.contextLength ?? 77;
  const d = model.config.embedDim;
  const out = new Float32Array(sentences.length * d);
  for (let s = 0; s < sentences.length; s += batch) {
    const chunk = sentences.slice(s, s + batch);
    const ids = getTokenizer().tokenize([...chunk], ctx);
    out.set(await model.encodeTokens(ids, chunk.length), s * d);
  }
  return out;
}

function groupFeature(emb: Float32Array, n: number, d: number): Float32Array {
  const normed = l2normalizeRows(emb, d);
  const mean = new Float32Array(d);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c] += normed[r * d + c];
  for (let c = 0; c < d; c++) mean[c] /= n;
  return l2normalizeRows(mean, d);
}

/** Row 0: normal, row 1: abnormal; each unit-norm. Float32 [2, D]. */
export async function anomalyTextFeatures(model: ClipModel, organ: string, variant: PromptVariant = 'code'): Promise<Float32Array> {
  const [normal, abnormal] = anomalyPrompts(organ, variant);
  const d = model.config.embedDim;
  // One pass over all sentences: both groups share the compiled graph.
  const emb = await encodeSentences(model, [...normal, ...abnormal]);
  const out = new Float32Array(2 * d);
  out.set(groupFeature(emb.subarray(0, normal.length * d), normal.length, d), 0);
  out.set(groupFeature(emb.subarray(normal.length * d), abnormal.length, d), d);
  return out;
}

/** Identity of a weights file for caching: path, size, mtime and a hash of its first and last MiB. */
export async function weightsFingerprint(path: string): Promise<string> {
  const st = await stat(path);
  const h = createHash('sha256');
  h.update(`${resolve(path)}|${st.size}|${st.mtimeMs}|`);
  const fh = await open(path, 'r');
  try {
    const mib = 1 << 20;
    for (const pos of [0, Math.max(0, st.size - mib)]) {
      const buf = Buffer.alloc(Math.min(mib, st.size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex').slice(0, 24);
}

/**
 * Text features cached on disk under `cacheDir`, keyed by the weights' fingerprint, activation, organ and prompt variant.
 * Afterwards the model's text tower is dropped from memory (it is read again from the file if another organ needs it).
 */
export async function cachedTextFeatures(
  model: ClipModel,
  weightsPath: string,
  organ: string,
  cacheDir: string,
  variant: PromptVariant = 'code',
): Promise<Float32Array> {
  const key = createHash('sha256')
    .update(`${await weightsFingerprint(weightsPath)}|${model.activation}|${variant}|${organ}`)
    .digest('hex')
    .slice(0, 32);
  const file = join(cacheDir, `text-${key}.f32`);
  const d = model.config.embedDim;
  let f: Float32Array | null = null;
  try {
    const b = await readFile(file);
    if (b.byteLength === 2 * d * 4) f = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  } catch {
    // not cached yet
  }
  if (!f) {
    f = await anomalyTextFeatures(model, organ, variant);
    await mkdir(cacheDir, { recursive: true });
    await writeFileAtomic(file, [new Uint8Array(f.buffer)], { overwrite: true });
  }
  await model.releaseTextTower();
  return f;
}
