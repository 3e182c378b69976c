// MVFA's text prompt ensemble (official code: 7 normal and 5 abnormal states × 35 templates).

export const NORMAL_STATES: readonly string[] = [
  '{}',
  'flawless {}',
  'perfect {}',
  'unblemished {}',
  '{} without flaw',
  '{} without defect',
  '{} without damage',
];

/** The official code's 5 abnormal states (with `broken`); the paper's Fig. 7 lists 4 (without `broken`). */
export const ABNORMAL_STATES: readonly string[] = ['damaged {}', 'broken {}', '{} with flaw', '{} with defect', '{} with damage'];
export const ABNORMAL_STATES_PAPER: readonly string[] = ['damaged {}', '{} with flaw', '{} with defect', '{} with damage'];

export const TEMPLATES: readonly string[] = [
  'a bad photo of a {}.',
  'a low resolution photo of the {}.',
  'a bad photo of the {}.',
  'a cropped photo of the {}.',
  'a bright photo of a {}.',
  'a dark photo of the {}.',
  'a photo of my {}.',
  'a photo of the cool {}.',
  'a close-up photo of a {}.',
  'a black and white photo of the {}.',
  'a bright photo of the {}.',
  'a cropped photo of a {}.',
  'a jpeg corrupted photo of a {}.',
  'a blurry photo of the {}.',
  'a photo of the {}.',
  'a good photo of the {}.',
  'a photo of one {}.',
  'a close-up photo of the {}.',
  'a photo of a {}.',
  'a low resolution photo of a {}.',
  'a photo of a large {}.',
  'a blurry photo of a {}.',
  'a jpeg corrupted photo of the {}.',
  'a good photo of a {}.',
  'a photo of the small {}.',
  'a photo of the large {}.',
  'a black and white photo of a {}.',
  'a dark photo of a {}.',
  'a photo of a cool {}.',
  'a photo of a small {}.',
  'there is a {} in the scene.',
  'there is the {} in the scene.',
  'this is a {} in the scene.',
  'this is the {} in the scene.',
  'this is one {} in the scene.',
];

export type PromptVariant = 'code' | 'paper';

/** Sentences of one state group, state-major then template order (as the official loops). */
export function promptSentences(organ: string, states: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of states) {
    const filled = s.replace('{}', organ);
    for (const t of TEMPLATES) out.push(t.replace('{}', filled));
  }
  return out;
}

/** [normal sentences, abnormal sentences] for an organ name. */
export function anomalyPrompts(organ: string, variant: PromptVariant = 'code'): [string[], string[]] {
  if (!organ.trim()) throw new Error('organ name is empty');
  return [promptSentences(organ, NORMAL_STATES), promptSentences(organ, variant === 'paper' ? ABNORMAL_STATES_PAPER : ABNORMAL_STATES)];
}
