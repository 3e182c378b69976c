/**
 * Exact, memory-bounded store of (float32 score, binary label) pairs for threshold metrics over huge
 * pixel sets (hundreds of millions of scores).
 *
 * Each score becomes its order-preserving uint32 key (score-keys.ts). The key's top 16 bits and the
 * label select one of 2^17 bins; only the low 16 bits are kept, as a uint16, in blocks that the bins
 * take from large slabs. That is a radix partition done while streaming: 2 bytes per score, plus the
 * unfilled rest of each bin's last block. A bin's blocks grow from 64 to 1024 values, so that waste
 * is at most the bin's own size for small bins and 2 KiB for large ones (again per slab change).
 *
 * Slabs grow (2 MiB, 32 MiB, then 512 MiB each) and are only resident as far as they are written,
 * since large fresh zeroed allocations are mapped lazily. All blocks being filled live in the newest
 * slab, so the hot loop writes into a single typed array; when it is full, the open blocks are
 * closed where they are and the bins continue in a new slab.
 *
 * Reading the groups back visits the 2^16 top-bit buckets in ascending order. A bucket holding one
 * class only is a single merged group (its internal order does not matter to AUROC or max F1).
 * A mixed bucket is resolved exactly on its low 16 bits, by counting (large buckets) or by sorting
 * (small ones), so ties are exactly the equal float32 values.
 */

import { countPositivesOfFiniteChunk, float32Bits, float32BitsToKey } from './score-keys.ts';
import type { TieGroupSource } from './tie-groups.ts';

const BUCKET_COUNT = 1 << 16;
const BIN_COUNT = BUCKET_COUNT * 2; // (top 16 key bits, label)
/** A bin's k-th block holds min(MAX_BLOCK, MIN_BLOCK << k) values: sparse bins waste little. */
const MIN_BLOCK = 64;
const MAX_BLOCK = 1024;
const MAX_BLOCK_STEP = 4; // MIN_BLOCK << 4 === MAX_BLOCK
const FIRST_SLAB = 1 << 20; // uint16 elements: 2 MiB
const LATER_SLAB = 1 << 28; // 512 MiB of address space, reached by ×16 steps (32 MiB first)
/** Mixed buckets up to this size are resolved by sorting instead of 2^16-entry count tables. */
const SORT_LIMIT = 2048;

/** Growable records of the blocks handed out: owning bin, slab, start offset, length. */
class BlockTable {
  count = 0;
  owner = new Uint32Array(256);
  slab = new Uint32Array(256);
  start = new Uint32Array(256);
  /** Number of stored values once closed: its capacity, unless closed early (slab change). */
  fill = new Uint16Array(256);

  push(owner: number, slab: number, start: number, capacity: number): number {
    const id = this.count;
    if (id === this.owner.length) {
      const grow = <T extends Uint32Array | Uint16Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.owner = grow(this.owner);
      this.slab = grow(this.slab);
      this.start = grow(this.start);
      this.fill = grow(this.fill);
    }
    this.owner[id] = owner;
    this.slab[id] = slab;
    this.start[id] = start;
    this.fill[id] = capacity;
    this.count = id + 1;
    return id;
  }
}

/** Exact radix-partitioned (float32 score, label) multiset; see the module comment. */
export class BucketedKeyStore implements TieGroupSource {
  /**
   * Per bin, interleaved: [2·bin] offset in the current slab of its next free slot and [2·bin + 1]
   * end of its open block; both 0 when it has none, so equal values mean "needs a block".
   */
  private readonly cursors = new Int32Array(2 * BIN_COUNT);
  /** Per bin: number of blocks taken so far, saturating at MAX_BLOCK_STEP. */
  private readonly steps = new Uint8Array(BIN_COUNT);
  /** Per bin: id of its open block (meaningful while its next-slot offset is not 0). */
  private readonly openBlock = new Uint32Array(BIN_COUNT);
  private readonly blocks = new BlockTable();
  private readonly slabs: Uint16Array[];
  private current: Uint16Array;
  private readonly laterSlab: number;
  /** First unused offset of the current slab; offset 0 is never handed out (0 = "no block"). */
  private used = MIN_BLOCK;
  private positiveCount = 0;
  private negativeCount = 0;

  /**
   * @param slabSizes slab lengths in uint16 elements (first slab, later slabs); multiples of 1024,
   *   at least 2048. Only tests need to change them.
   */
  constructor(slabSizes: { first: number; later: number } = { first: FIRST_SLAB, later: LATER_SLAB }) {
    for (const size of [slabSizes.first, slabSizes.later]) {
      if (!Number.isInteger(size) || size % MAX_BLOCK !== 0 || size < 2 * MAX_BLOCK || size > 2 ** 30) {
        throw new RangeError(`invalid slab size ${size}`);
      }
    }
    this.current = new Uint16Array(slabSizes.first);
    this.slabs = [this.current];
    this.laterSlab = slabSizes.later;
  }

  get positives(): number {
    return this.positiveCount;
  }

  get negatives(): number {
    return this.negativeCount;
  }

  /** Number of scores added so far. */
  get size(): number {
    return this.positiveCount + this.negativeCount;
  }

  /** Number of slabs allocated so far. */
  get slabCount(): number {
    return this.slabs.length;
  }

  /**
   * Adds scores with their labels (0 = negative, anything else = positive). The whole input is
   * validated first, so a rejected call (NaN, ±Infinity, length mismatch) leaves the store unchanged.
   */
  add(scores: Float32Array, labels: Uint8Array): void {
    const positives = countPositivesOfFiniteChunk(scores, labels);
    const n = scores.length;
    const bits = float32Bits(scores);
    const cursors = this.cursors;
    let i = appendWhileRoom(bits, labels, 0, n, cursors, this.current);
    while (i < n) {
      // Element i's bin has no room: open a block, store the element, resume the fast loop.
      const key = float32BitsToKey(bits[i]);
      const bin = ((key >>> 16) << 1) | ((labels[i] + 255) >>> 8);
      const p = this.takeBlock(bin);
      this.current[p] = key;
      cursors[bin << 1] = p + 1;
      i = appendWhileRoom(bits, labels, i + 1, n, cursors, this.current);
    }
    this.positiveCount += positives;
    this.negativeCount += n - positives;
  }

  /** Opens a fresh block for `bin` (its previous one, if any, is full) and returns its offset. */
  private takeBlock(bin: number): number {
    const step = this.steps[bin];
    const capacity = MIN_BLOCK << step;
    if (this.used + capacity > this.current.length) this.nextSlab();
    const start = this.used;
    this.used += capacity;
    this.openBlock[bin] = this.blocks.push(bin, this.slabs.length - 1, start, capacity);
    this.cursors[(bin << 1) | 1] = start + capacity;
    if (step < MAX_BLOCK_STEP) this.steps[bin] = step + 1;
    return start;
  }

  /** Closes every open block where it stands and continues in a new slab. */
  private nextSlab(): void {
    for (let bin = 0; bin < BIN_COUNT; bin++) {
      const p = this.cursors[bin << 1];
      if (p !== 0) this.blocks.fill[this.openBlock[bin]] = p - this.blocks.start[this.openBlock[bin]];
    }
    this.cursors.fill(0);
    this.current = new Uint16Array(Math.min(this.laterSlab, this.current.length * 16));
    this.slabs.push(this.current);
    this.used = MIN_BLOCK;
  }

  /** Stored length of a block, counting the live fill of open blocks. */
  private blockLength(id: number): number {
    const bin = this.blocks.owner[id];
    const p = this.cursors[bin << 1];
    return p !== 0 && this.openBlock[bin] === id ? p - this.blocks.start[id] : this.blocks.fill[id];
  }

  forEachGroup(visit: (pos: number, neg: number) => void): void {
    const { first, list, sizes } = this.blocksByBin();
    const tables: LowBitTables = {
      neg: new Float64Array(BUCKET_COUNT),
      pos: new Float64Array(BUCKET_COUNT),
      codes: new Uint32Array(SORT_LIMIT),
    };
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
      const negBin = bucket << 1;
      const posBin = negBin | 1;
      const nNeg = sizes[negBin];
      const nPos = sizes[posBin];
      if (nNeg === 0 && nPos === 0) continue;
      if (nPos === 0 || nNeg === 0) {
        visit(nPos, nNeg); // single-class bucket: one merged group
      } else if (nNeg + nPos <= SORT_LIMIT) {
        let c = 0;
        const codes = tables.codes;
        this.forEachBlock(negBin, first, list, (slab, from, to) => {
          for (let i = from; i < to; i++) codes[c++] = slab[i] << 1;
        });
        this.forEachBlock(posBin, first, list, (slab, from, to) => {
          for (let i = from; i < to; i++) codes[c++] = (slab[i] << 1) | 1;
        });
        emitSortedCodes(codes.subarray(0, c).sort(), visit);
      } else {
        this.countLowBits(negBin, first, list, tables.neg);
        this.countLowBits(posBin, first, list, tables.pos);
        emitCountTables(tables, visit);
      }
    }
  }

  /** CSR lists of the blocks owned by each bin, and the number of values per bin. */
  private blocksByBin(): { first: Uint32Array; list: Uint32Array; sizes: Float64Array } {
    const { owner, count } = this.blocks;
    const first = new Uint32Array(BIN_COUNT + 1);
    const sizes = new Float64Array(BIN_COUNT);
    for (let id = 0; id < count; id++) {
      first[owner[id] + 1]++;
      sizes[owner[id]] += this.blockLength(id);
    }
    for (let bin = 0; bin < BIN_COUNT; bin++) first[bin + 1] += first[bin];
    const cursor = first.slice(0, BIN_COUNT);
    const list = new Uint32Array(count);
    for (let id = 0; id < count; id++) list[cursor[owner[id]]++] = id;
    return { first, list, sizes };
  }

  /** Calls `use(slab, from, to)` for each stored block of `bin`. */
  private forEachBlock(bin: number, first: Uint32Array, list: Uint32Array, use: (slab: Uint16Array, from: number, to: number) => void): void {
    for (let k = first[bin]; k < first[bin + 1]; k++) {
      const id = list[k];
      const from = this.blocks.start[id];
      use(this.slabs[this.blocks.slab[id]], from, from + this.blockLength(id));
    }
  }

  private countLowBits(bin: number, first: Uint32Array, list: Uint32Array, counts: Float64Array): void {
    this.forEachBlock(bin, first, list, (slab, from, to) => {
      for (let i = from; i < to; i++) counts[slab[i]]++;
    });
  }
}

/**
 * The hot loop of {@link BucketedKeyStore.add}: appends elements from index `from` while their bin's
 * open block has room, and returns the index of the first element whose bin needs a new block (or
 * `to`). Kept free of property accesses so that it stays optimised.
 */
function appendWhileRoom(bits: Uint32Array, labels: Uint8Array, from: number, to: number, cursors: Int32Array, slab: Uint16Array): number {
  for (let i = from; i < to; i++) {
    let b = bits[i] | 0;
    if (b === -0x80000000) b = 0; // -0 -> +0
    const key = b ^ ((b >> 31) | 0x80000000);
    const c = ((key >>> 16) << 2) | (((labels[i] + 255) >>> 8) << 1); // 2 · bin
    const p = cursors[c];
    if (p === cursors[c + 1]) return i;
    slab[p] = key; // the uint16 store keeps the low 16 bits
    cursors[c] = p + 1;
  }
  return to;
}

interface LowBitTables {
  neg: Float64Array;
  pos: Float64Array;
  codes: Uint32Array;
}

/** Groups of sorted codes `low << 1 | label`: equal `low` values form one group. */
function emitSortedCodes(codes: Uint32Array, visit: (pos: number, neg: number) => void): void {
  let i = 0;
  while (i < codes.length) {
    const low = codes[i] >>> 1;
    let neg = 0;
    let pos = 0;
    while (i < codes.length && codes[i] >>> 1 === low) {
      if (codes[i] & 1) pos++;
      else neg++;
      i++;
    }
    visit(pos, neg);
  }
}

/** Groups from per-low-bits count tables, which are zeroed on the way for the next bucket. */
function emitCountTables(tables: LowBitTables, visit: (pos: number, neg: number) => void): void {
  const { neg, pos } = tables;
  for (let low = 0; low < BUCKET_COUNT; low++) {
    const n = neg[low];
    const p = pos[low];
    if (n === 0 && p === 0) continue;
    neg[low] = 0;
    pos[low] = 0;
    visit(p, n);
  }
}
