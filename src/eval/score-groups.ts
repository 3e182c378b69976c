/** Chooses how a one-shot input is reduced to tie groups: a sort, or the bucketed store when large. */

import { BucketedKeyStore } from './bucketed-key-store.ts';
import { assertSameLength, type ScoreArray } from './score-keys.ts';
import { sortedTieGroups, type TieGroupSource } from './tie-groups.ts';

/** Float32 inputs longer than this go through the bucketed store instead of a sort. */
const SORT_PATH_LIMIT = 1 << 20;
/** Large inputs are fed to the store in slices of this many scores. */
const SLICE = 1 << 16;

/** Tie groups of a one-shot input (validated: equal lengths, finite scores). */
export function tieGroupsOf(scores: ScoreArray, labels: Uint8Array): TieGroupSource {
  assertSameLength(scores.length, labels.length);
  if (scores instanceof Float32Array && scores.length > SORT_PATH_LIMIT) return storeOf(scores, labels);
  return sortedTieGroups(scores, labels);
}

function storeOf(scores: Float32Array, labels: Uint8Array): BucketedKeyStore {
  const store = new BucketedKeyStore();
  for (let from = 0; from < scores.length; from += SLICE) {
    const to = Math.min(scores.length, from + SLICE);
    try {
      store.add(scores.subarray(from, to), labels.subarray(from, to));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      // Report the index within the whole input, not within the slice.
      const message = e.message.replace(/at index (\d+)/, (_m, i: string) => `at index ${from + Number(i)}`);
      throw new RangeError(message);
    }
  }
  return store;
}
