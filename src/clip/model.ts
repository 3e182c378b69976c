// A loaded CLIP: config + float32 weights under OpenAI names, with compiled text and vision graphs on demand.
// Tensors of a safetensors checkpoint are only located at load: graphs that own their weights have onnxruntime read
// them from the file, and the host reads a tensor only when a graph needs it in memory. The text tower can be
// dropped once text features are known and is read again from the checkpoint file when it is needed later.
import { existsSync } from 'node:fs';
import { CompiledGraph, Graph, type SessionConfig } from '../graph/index.ts';
import { loadWeights } from '../io/weights/weights.ts';
import { type ClipConfig, type TextConfig, inferClipConfig } from './config.ts';
import { type ClipStateDict, normalizeStateDict } from './state-dict.ts';
import { textFeeds, textTower } from './text.ts';
import { type Activation } from './transformer.ts';
import { visionTower } from './vision.ts';

export interface ClipOptions extends SessionConfig {
  /** Exact GELU (default, as the official MVFA code builds CLIP) or QuickGELU (as OpenAI trained it). */
  activation?: Activation;
  visionHeads?: number;
  textHeads?: number;
}

export class ClipModel {
  readonly config: ClipConfig;
  readonly activation: Activation;
  private readonly sessions = new Map<string, Promise<CompiledGraph>>();
  /** Text encodings in progress (the text tower is not dropped under them). */
  private textUsers = 0;

  constructor(
    readonly weights: ClipStateDict,
    readonly source: string,
    readonly options: ClipOptions = {},
  ) {
    this.config = inferClipConfig(weights, source, { visionHeads: options.visionHeads, textHeads: options.textHeads });
    this.activation = options.activation ?? 'gelu';
  }

  private textConfig(): TextConfig {
    if (!this.config.text) throw new Error(`${this.source}: this checkpoint has no text tower`);
    return this.config.text;
  }

  private cached(key: string, build: () => Promise<CompiledGraph>): Promise<CompiledGraph> {
    let s = this.sessions.get(key);
    if (!s) {
      s = build();
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Whether the text tower's weights are in memory. */
  get textTowerLoaded(): boolean {
    return this.weights.has('token_embedding.weight');
  }

  /**
   * Drops the text tower (its weights and compiled graphs) to save memory; it is read again from the checkpoint
   * file on the next text encoding. Returns false (and keeps it) when it cannot be read again — the model was not
   * loaded from a file — or while an encoding is running.
   */
  async releaseTextTower(): Promise<boolean> {
    if (!this.config.text || !this.textTowerLoaded || this.textUsers > 0 || !existsSync(this.source)) return false;
    for (const [key, s] of [...this.sessions]) {
      if (!key.startsWith('text:')) continue;
      this.sessions.delete(key);
      await (await s).release();
    }
    for (const k of [...this.weights.keys()]) if (isTextKey(k)) this.weights.delete(k);
    return true;
  }

  private async ensureTextTower(): Promise<void> {
    if (this.textTowerLoaded) return;
    const all = normalizeStateDict(await loadWeights(this.source, { locate: true }), this.source);
    if (this.textTowerLoaded) return;
    for (const [k, t] of all) if (isTextKey(k)) this.weights.set(k, t);
    inferClipConfig(this.weights, this.source, { visionHeads: this.options.visionHeads, textHeads: this.options.textHeads });
  }

  /**
   * Text embeddings [N, outputDim] (not normalised) for tokenised rows `ids` [N, ctx]. Only the first `len`
   * positions are computed (default: up to the last end token), which is exact because attention is causal.
   */
  async encodeTokens(ids: Int32Array, n: number): Promise<Float32Array> {
    this.textUsers++;
    try {
      await this.ensureTextTower();
      return await this.encodeLoaded(ids, n);
    } finally {
      this.textUsers--;
    }
  }

  private async encodeLoaded(ids: Int32Array, n: number): Promise<Float32Array> {
    const cfg = this.textConfig();
    const ctx = ids.length / n;
    if (!Number.isInteger(ctx) || ctx > cfg.contextLength) throw new RangeError(`token rows of length ${ctx} do not fit context ${cfg.contextLength}`);
    let len = 1;
    for (let r = 0; r < n; r++) {
      let arg = 0;
      for (let j = 0; j < ctx; j++) if (ids[r * ctx + j] > ids[r * ctx + arg]) arg = j;
      len = Math.max(len, arg + 1);
    }
    const graph = await this.cached(`text:${n}:${len}`, async () => {
      const g = new Graph(`clip_text_${n}x${len}`);
      const { out } = textTower(g, this.weights, cfg, n, len, this.activation);
      return CompiledGraph.compile(g, { text: out }, this.options);
    });
    const r = await graph.run(textFeeds(this.weights, cfg, ids, n, ctx, len));
    return r.text.data;
  }

  /** Image embeddings ln_post(class token)·proj, [B, outputDim], for images [B,3,S,S] in the model's input space. */
  async encodeImages(images: Float32Array, batch: number, imageSize: number): Promise<Float32Array> {
    const graph = await this.cached(`vision:${batch}:${imageSize}`, async () => {
      const g = new Graph(`clip_vision_${batch}x${imageSize}`);
      const img = g.input('image', [batch, 3, imageSize, imageSize]);
      return CompiledGraph.compile(g, { embedding: visionTower(img, this.weights, this.config.vision, this.activation) }, this.options);
    });
    const r = await graph.run({ image: images });
    return r.embedding.data;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/** The text tower's tensors (OpenAI names): everything but the vision tower and the logit scale. */
function isTextKey(k: string): boolean {
  return !k.startsWith('visual.') && k !== 'logit_scale';
}

export function l2normalizeRows(x: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[r * cols + c] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] * inv;
  }
  return out;
}
