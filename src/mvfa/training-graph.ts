// The MVFA training step as one graph: cached stream after the first level → adapters and frozen blocks →
// per-level focal + dice (seg head) and BCE (det head) losses → loss and adapter gradients.
import { CompiledGraph, Graph, type SessionConfig, type Value, add, gradients } from '../graph/index.ts';
import { type Head, adapterInputName, adapterInputs } from './adapters.ts';
import { bceProbability, bceWithLogits, diceLoss, focalLoss } from './losses.ts';
import { type Backbone, adaptedTail, checkLevels } from './network.ts';
import { abnormalChannel, detScore, detScoreMax, l2normalize, patchTokens, segProbabilities, segProbabilitiesPaper, zeroShotLogits } from './scoring.ts';

export interface TrainGraphSpec {
  levels: readonly number[];
  bottleneck: number;
  imageSize: number;
  batch: number;
  tokens: number;
  /** Only the det head's BCE terms (datasets without masks); only det adapters get gradients. */
  acOnly: boolean;
  /**
   * 'code' (default, official): softmax after upsampling, BCE-with-logits on the mean abnormal probability.
   * 'paper': softmax before upsampling, plain BCE on the max abnormal probability (Eqs. 3–4 of the paper).
   */
  loss?: LossVariant;
}

export type LossVariant = 'code' | 'paper';

/** Names of the tensors the step returns gradients for. */
export function trainableNames(spec: TrainGraphSpec): string[] {
  const heads: Head[] = spec.acOnly ? ['det'] : ['seg', 'det'];
  const out: string[] = [];
  for (const h of heads) for (let j = 0; j < spec.levels.length; j++) out.push(adapterInputName(h, 'fc1', j), adapterInputName(h, 'fc2', j));
  return out;
}

export async function compileTrainStep(bb: Backbone, spec: TrainGraphSpec, cfg: SessionConfig = {}): Promise<{ graph: CompiledGraph; withGrad: string[] }> {
  checkLevels(spec.levels, bb.vision.layers);
  const { batch: b, imageSize: s, bottleneck: d } = spec;
  const g = new Graph(`mvfa_train_${b}${spec.acOnly ? '_ac' : ''}`);
  const x = g.input('stream', [b, spec.tokens, bb.vision.width]);
  const text = g.input('text', [2, d]);
  const label = g.input('label', [b]);
  const mask = spec.acOnly ? null : g.input('mask', [b, s, s]);
  const ad = adapterInputs(g, bb.vision.width, d, spec.levels.length);
  const mids = adaptedTail(x, bb, spec.levels, ad);
  const outs: Record<string, Value> = {};
  const terms: Value[] = [];
  spec.levels.forEach((_, j) => {
    const paper = spec.loss === 'paper';
    const detLogits = zeroShotLogits(l2normalize(patchTokens(mids.det[j])), text);
    const bce = paper ? bceProbability(detScoreMax(detLogits), label) : bceWithLogits(detScore(detLogits), label);
    outs[`bce_${j}`] = bce;
    if (mask) {
      const segLogits = zeroShotLogits(l2normalize(patchTokens(mids.seg[j])), text);
      const probs = paper ? segProbabilitiesPaper(segLogits, s) : segProbabilities(segLogits, s);
      const focal = focalLoss(probs, mask);
      const dice = diceLoss(abnormalChannel(probs), mask);
      outs[`focal_${j}`] = focal;
      outs[`dice_${j}`] = dice;
      terms.push(focal, dice);
    }
    terms.push(bce);
  });
  const loss = terms.reduce((a, c) => add(a, c));
  outs.loss = loss;
  const names = trainableNames(spec);
  const byName = new Map<string, Value>();
  ad.seg.forEach((p, j) => {
    byName.set(adapterInputName('seg', 'fc1', j), p.fc1);
    byName.set(adapterInputName('seg', 'fc2', j), p.fc2);
  });
  ad.det.forEach((p, j) => {
    byName.set(adapterInputName('det', 'fc1', j), p.fc1);
    byName.set(adapterInputName('det', 'fc2', j), p.fc2);
  });
  const grads = gradients(
    loss,
    names.map((n) => byName.get(n)!),
  );
  const withGrad: string[] = [];
  grads.forEach((gr, i) => {
    if (gr) {
      outs[`grad_${names[i]}`] = gr;
      withGrad.push(names[i]);
    }
  });
  return { graph: await CompiledGraph.compile(g, outs, cfg), withGrad };
}
