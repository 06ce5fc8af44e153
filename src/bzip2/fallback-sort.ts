// The guaranteed-linear block sort: sorts the cyclic rotations of a block with SA-IS, the role
// libbzip2's fallbackSort plays (blocksort.c) but in O(n) instead of O(n log n).
// Spec docs/spec/bzip2.md §2.3: remove the period first (u^k sorts like u), then rotate the
// block to its least rotation, a Lyndon word, whose rotations sort exactly like its suffixes.

import { SaisWorkspace, suffixSortBytes } from './sais.js';

export class FallbackSortWorkspace {
  readonly sais = new SaisWorkspace();
  text = new Uint8Array(0);
  failure: Int32Array = new Int32Array(0);
}

/**
 * Sorts the rotations of block[0, n) into ptr[0, n) (rotation start offsets, increasing). Equal
 * rotations (periodic blocks) come in increasing offset order.
 */
export function fallbackSort(block: Uint8Array, n: number, ptr: Int32Array, ws: FallbackSortWorkspace): void {
  if (n === 0) return;
  if (n === 1) {
    ptr[0] = 0;
    return;
  }
  const period = cyclicPeriod(block, n, ws);
  if (period < n) {
    // block = u^k: sort u's rotations, then each one stands for k equal rotations u, u + p, ...
    const copies = n / period;
    fallbackSort(block, period, ptr, ws);
    for (let i = period - 1; i >= 0; i--) {
      const r = ptr[i]!;
      const base = i * copies;
      for (let c = 0; c < copies; c++) ptr[base + c] = r + c * period;
    }
    return;
  }
  const m = leastRotation(block, n);
  if (ws.text.length < n) ws.text = new Uint8Array(Math.max(n, ws.text.length * 2));
  const text = ws.text;
  for (let i = 0, x = m; i < n; i++) {
    text[i] = block[x]!;
    if (++x === n) x = 0;
  }
  suffixSortBytes(text, ptr, n, ws.sais);
  // Suffix i of the rotated text is rotation (i + m) mod n of the block.
  for (let i = 0; i < n; i++) {
    let r = ptr[i]! + m;
    if (r >= n) r -= n;
    ptr[i] = r;
  }
}

/**
 * The start of the lexicographically least rotation (two-pointer minimum-rotation scan, O(n)).
 * For a primitive string it is unique.
 */
export function leastRotation(s: Uint8Array, n: number): number {
  let i = 0;
  let j = 1;
  let k = 0;
  while (i < n && j < n && k < n) {
    let x = i + k;
    if (x >= n) x -= n;
    let y = j + k;
    if (y >= n) y -= n;
    const a = s[x]!;
    const b = s[y]!;
    if (a === b) {
      k++;
      continue;
    }
    if (a > b) i += k + 1;
    else j += k + 1;
    if (i === j) j++;
    k = 0;
  }
  return i < j ? i : j;
}

/** The smallest p dividing n such that s is (s[0, p))^(n/p), from the KMP failure function. */
export function cyclicPeriod(s: Uint8Array, n: number, ws: FallbackSortWorkspace): number {
  if (ws.failure.length < n + 1) ws.failure = new Int32Array(n + 1);
  const fail = ws.failure;
  fail[0] = -1;
  let k = -1;
  for (let i = 1; i <= n; i++) {
    const c = s[i - 1]!;
    while (k >= 0 && s[k] !== c) k = fail[k]!;
    k++;
    fail[i] = k;
  }
  const p = n - fail[n]!;
  return n % p === 0 ? p : n;
}
