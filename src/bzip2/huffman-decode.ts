// Canonical Huffman decoding tables for up to 6 coding tables (libbzip2 huffman.c
// BZ2_hbCreateDecodeTables, plus a first-level lookup table). Spec docs/spec/bzip2.md §1.6, §4.2.
//
// limit/base/perm follow libbzip2's definitions exactly, so that even malformed (oversubscribed)
// code-length sets decode the way bzip2 decodes them: bzip2 accepts such tables unless a code that
// cannot be decoded is actually used, and our accept/reject verdicts must match bzip2's. A
// LOOKUP_BITS-bit lookup table resolves short codes in one probe; it is only built for tables that
// are a valid prefix code (complete or not), where it gives the same answers as the limit search.

import { BZ_MAX_ALPHA_SIZE, BZ_N_GROUPS } from './constants.js';

export const LOOKUP_BITS = 10;
/** Longest code length accepted on read (bzip2 1.0.8 rejects lengths outside 1..20). */
export const MAX_CODE_LEN = 20;
/** Per-table stride of limit[] and base[] (lengths 0..MAX_CODE_LEN+1 and one spare). */
export const LEN_STRIDE = 24;

export class HuffmanDecodeTables {
  /** Entry (sym << 4) | len for codes of length <= LOOKUP_BITS, 0 when the prefix needs the slow path. */
  readonly lookup = new Uint16Array(BZ_N_GROUPS << LOOKUP_BITS);
  /** limit[t*LEN_STRIDE + l]: largest l-bit code value of length l (libbzip2 gLimit). */
  readonly limit = new Int32Array(BZ_N_GROUPS * LEN_STRIDE);
  /** base[t*LEN_STRIDE + l]: subtracted from an l-bit code to index perm (libbzip2 gBase). */
  readonly base = new Int32Array(BZ_N_GROUPS * LEN_STRIDE);
  /** perm[t*BZ_MAX_ALPHA_SIZE + k]: symbols sorted by (length, symbol) (libbzip2 gPerm). */
  readonly perm = new Int32Array(BZ_N_GROUPS * BZ_MAX_ALPHA_SIZE);
  /** First code length the slow path tries: minLen, or LOOKUP_BITS+1 when the lookup table is valid. */
  readonly slowStart = new Int32Array(BZ_N_GROUPS);
  private readonly count = new Int32Array(LEN_STRIDE);

  /** Builds table `t` from code lengths `length[0, alphaSize)`, each already checked to be in 1..20. */
  build(t: number, length: Uint8Array, alphaSize: number): void {
    const count = this.count;
    count.fill(0);
    let minLen = 32;
    let maxLen = 0;
    for (let i = 0; i < alphaSize; i++) {
      const l = length[i]!;
      count[l]!++;
      if (l < minLen) minLen = l;
      if (l > maxLen) maxLen = l;
    }
    const lOff = t * LEN_STRIDE;
    const pOff = t * BZ_MAX_ALPHA_SIZE;
    const limit = this.limit;
    const base = this.base;
    // perm: symbols in (length, symbol) order.
    let k = 0;
    for (let l = minLen; l <= maxLen; l++) {
      if (count[l] === 0) continue;
      for (let i = 0; i < alphaSize; i++) if (length[i] === l) this.perm[pOff + k++] = i;
    }
    // Outside [minLen, maxLen] libbzip2 leaves limit = 0 and base = (number of shorter codes), so
    // an all-zero code longer than maxLen "matches" and then fails the index check.
    let shorter = 0;
    for (let l = 0; l < LEN_STRIDE; l++) {
      limit[lOff + l] = 0;
      base[lOff + l] = shorter;
      shorter += count[l]!;
    }
    let firstCode = 0;
    let oversubscribed = false;
    let nShorter = 0;
    for (let l = minLen; l <= maxLen; l++) {
      const lim = firstCode + count[l]! - 1;
      limit[lOff + l] = lim;
      if (l > minLen) base[lOff + l] = firstCode - nShorter;
      if (lim >= 1 << l) oversubscribed = true;
      nShorter += count[l]!;
      firstCode = (lim + 1) << 1;
    }
    const lookup = this.lookup;
    const tOff = t << LOOKUP_BITS;
    // Plain loops rather than TypedArray fill(): they compile to far less code (this runs per table).
    for (let i = tOff; i < tOff + (1 << LOOKUP_BITS); i++) lookup[i] = 0;
    if (oversubscribed) {
      this.slowStart[t] = minLen;
      return;
    }
    this.slowStart[t] = Math.max(minLen, LOOKUP_BITS + 1);
    // Canonical codes: consecutive values within a length, in perm order.
    let code = 0;
    k = 0;
    for (let l = minLen; l <= Math.min(maxLen, LOOKUP_BITS); l++) {
      const shift = LOOKUP_BITS - l;
      for (let c = 0; c < count[l]!; c++) {
        const entry = (this.perm[pOff + k++]! << 4) | l;
        const first = tOff + (code << shift);
        for (let i = first; i < first + (1 << shift); i++) lookup[i] = entry;
        code++;
      }
      code <<= 1;
    }
  }
}
