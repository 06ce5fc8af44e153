// Finds every bit offset where the 48-bit block magic 0x314159265359 starts, a byte at a time, with
// a 49-state automaton (states = bits of the magic matched so far) derived from the bit-level KMP
// failure function, as lbzip2's scanner does. Candidates are only hints: the parser keeps those that
// chain. Spec ../shared/spec/bzip2.md §3.2 (scanner) and §3.3 (foreign files).

import { BLOCK_MAGIC_HI, BLOCK_MAGIC_LO } from './constants.js';

const PATTERN_BITS = 48;

function patternBit(i: number): number {
  return i < 24 ? (BLOCK_MAGIC_HI >>> (23 - i)) & 1 : (BLOCK_MAGIC_LO >>> (47 - i)) & 1;
}

/**
 * TRANSITIONS[state * 256 + byte] = next state | (k << 8), where k (1..8) says the match completed
 * after the k-th bit of the byte (MSB first), 0 when no match completed in it. The magic cannot
 * overlap itself by fewer than 8 bits, so at most one match completes per byte.
 */
const TRANSITIONS: Uint16Array = buildTransitions();

function buildTransitions(): Uint16Array {
  // fail[i]: length of the longest proper border of the first i bits of the pattern.
  const bits = new Uint8Array(PATTERN_BITS);
  for (let i = 0; i < PATTERN_BITS; i++) bits[i] = patternBit(i);
  const fail = new Int32Array(PATTERN_BITS + 1);
  fail[0] = -1;
  for (let i = 1, k = -1; i <= PATTERN_BITS; i++) {
    while (k >= 0 && bits[k] !== bits[i - 1]) k = fail[k]!;
    fail[i] = ++k;
  }
  // One bit at a time first (after a full match, continue from its longest border)...
  const bitNext = new Uint8Array((PATTERN_BITS + 1) * 2);
  for (let state = 0; state <= PATTERN_BITS; state++) {
    for (let bit = 0; bit < 2; bit++) {
      let s = state === PATTERN_BITS ? fail[PATTERN_BITS]! : state;
      while (s >= 0 && bits[s] !== bit) s = fail[s]!;
      bitNext[state * 2 + bit] = s + 1;
    }
  }
  // ...then a byte at a time, noting after which bit a match completed.
  const table = new Uint16Array((PATTERN_BITS + 1) * 256);
  for (let state = 0; state <= PATTERN_BITS; state++) {
    for (let byte = 0; byte < 256; byte++) {
      let s = state;
      let hit = 0;
      for (let k = 1; k <= 8; k++) {
        s = bitNext[s * 2 + ((byte >>> (8 - k)) & 1)]!;
        if (s === PATTERN_BITS) {
          if (hit !== 0) throw new Error('block magic overlaps itself within a byte');
          hit = k;
        }
      }
      table[state * 256 + byte] = s | (hit << 8);
    }
  }
  return table;
}

/** Incremental scanner: feed consecutive input pieces; it remembers the partial match between them. */
export class BlockMagicScanner {
  private state = 0;
  /** Absolute byte offset of the next byte to scan. */
  scannedByte = 0;

  /**
   * Scans bytes[from, to), which sit at absolute byte offset `scannedByte`, and appends the absolute
   * bit offsets of the magics found (their first bit) to `out`.
   */
  scan(bytes: Uint8Array, from: number, to: number, out: number[]): void {
    const table = TRANSITIONS;
    let s = this.state;
    const baseBit = (this.scannedByte - from) * 8;
    for (let i = from; i < to; i++) {
      const e = table[(s << 8) | bytes[i]!]!;
      s = e & 0xff;
      if (e > 0xff) out.push(baseBit + i * 8 + (e >>> 8) - PATTERN_BITS);
    }
    this.state = s;
    this.scannedByte += to - from;
  }
}
