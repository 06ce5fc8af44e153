// BZ2_blockSort: the Burrows-Wheeler sort of one block, as a hybrid (spec docs/spec/bzip2.md
// §2.4): libbzip2's mainSort with a work budget, and the linear-time SA-IS fallbackSort when the
// budget runs out or the block is small. Both give the same sorted order for any block whose
// rotations are distinct, so the output does not depend on which one ran.
//
// The budget: the spec suggests 0.3 comparator steps per byte, measured when SA-IS was the faster
// sort on most blocks. Here mainSort is about twice as fast as SA-IS on ordinary disk-image blocks
// and finishes every block of the 23 MB ntfsclone sample within 14 steps per byte, while periodic,
// near-periodic and Fibonacci-like blocks exhaust any budget. Measured: on the sample's 19 blocks,
// budget 0 (SA-IS only) 2.47 s, 3 → 1.64 s, 6 → 1.45 s, 9 → 1.43 s, 15 → 1.31 s; a 64 KiB period
// with noise every 4 KiB is sorted by mainSort in 120 ms at 9 (SA-IS: 158 ms), and the blocks that
// exhaust the budget lose about 80 ms at 9. So 9, libbzip2's own default (work factor 30), but
// backed by a linear-time sort instead of libbzip2's O(n log n) fallbackSort. A block that has
// finished half its entries when the budget runs out gets a second budget as large (main-sort.ts
// says why): the sample's one slow block then sorts in 155 ms instead of 232 ms (all 19 blocks:
// 1.36 -> 1.26 s), while periodic and near-periodic blocks, which give up with none finished, keep
// their time (`npm run bench -- block-sort-budget`).

import { SnapcloneError } from '../core/errors.js';
import { fallbackSort, FallbackSortWorkspace } from './fallback-sort.js';
import { mainSort, MainSortWorkspace } from './main-sort.js';

/** Below this many bytes the fallback runs directly (libbzip2 uses the same threshold). */
const MAIN_SORT_MIN_BLOCK = 10000;

export class BlockSortWorkspace {
  readonly main: MainSortWorkspace;
  readonly fallback = new FallbackSortWorkspace();
  /** Statistics of the last call, for tests and benchmarks. */
  lastUsedFallback = false;

  constructor(maxBlockBytes: number) {
    this.main = new MainSortWorkspace(maxBlockBytes);
    // mainSort's cached digits, the period search and SA-IS's widened text are never live at the
    // same time: one block-sized Int32Array serves all three (saves 7 MB per thread at -9).
    const scratch = this.main.keys;
    this.fallback.failure = scratch;
    this.fallback.sais.wide = scratch;
  }
}

export interface BlockSortOptions {
  /**
   * mainSort's work budget in comparator steps per block byte before it gives up (libbzip2 uses 9
   * with its default work factor 30; the hybrid wants much less because its fallback is linear).
   */
  budgetPerByte?: number;
}

export const DEFAULT_BUDGET_PER_BYTE = 9;

/**
 * Sorts the rotations of block[0, n) into ptr[0, n) and returns origPtr, the row holding rotation 0.
 * `block` needs BZ_N_OVERSHOOT spare bytes after n (mainSort writes there).
 */
export function blockSort(block: Uint8Array, n: number, ptr: Int32Array, ws: BlockSortWorkspace, options: BlockSortOptions = {}): number {
  const budgetPerByte = options.budgetPerByte ?? DEFAULT_BUDGET_PER_BYTE;
  let sorted = false;
  if (n >= MAIN_SORT_MIN_BLOCK) {
    const workBudget = Math.floor(n * budgetPerByte);
    sorted = mainSort(block, n, ptr, ws.main, workBudget, workBudget);
  }
  ws.lastUsedFallback = !sorted;
  if (!sorted) fallbackSort(block, n, ptr, ws.fallback);
  return findOrigPtr(ptr, n);
}

/** The row of the sorted order that holds rotation 0. */
function findOrigPtr(ptr: Int32Array, n: number): number {
  const i = ptr.subarray(0, n).indexOf(0);
  if (i < 0) throw new SnapcloneError('BZ2_INTERNAL', 'the block sort lost rotation 0', { kind: 'internal' });
  return i;
}
