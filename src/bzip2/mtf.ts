// generateMTFValues (libbzip2 compress.c): the BWT output through move-to-front, with runs of rank 0
// written as RUNA/RUNB digits (bijective base 2, least significant first) and EOB last.
// Spec: docs/spec/bzip2.md §1.5 (alphabet) and §2.5 (why the list is kept as 16 rows of 16).
//
// libbzip2 shifts up to 255 bytes per symbol; disk images have many high ranks, so the list here is
// 16 rows of 16 symbols, each row with its own movable base address in one array: moving a symbol
// to the front shifts at most 15 entries inside its row and hops one entry per row above it.

import { BZ_RUNA, BZ_RUNB } from './constants.js';

/**
 * The row of each symbol, the row bases and the list share one Int32Array (measured faster in V8
 * than three separate byte arrays): ROW, then ROW_BASE, then the list from LIST on.
 */
/** m[ROW + symbol]: the row the symbol is in (its place inside the row is found by scanning). */
const ROW = 0;
/** m[ROW_BASE + r]: the address of row r's first entry. */
const ROW_BASE = 256;
const LIST = ROW_BASE + 16;
/**
 * Every move to the front shifts row 0 (and maybe others) one slot left, so the rows are laid out
 * again every RELAYOUT_MOVES moves, RELAYOUT_MOVES slots from the start of the list. The re-layout
 * runs on the first move too: V8 then has type feedback for it before it optimises the loop.
 */
const RELAYOUT_MOVES = 32768;
const ROW_START = LIST + RELAYOUT_MOVES;

export class MtfWorkspace {
  /** The BWT output, gathered from ptr before the MTF pass. */
  bwt = new Uint8Array(0);
  readonly m = new Int32Array(ROW_START + 256);
  readonly relayoutScratch = new Int32Array(256);
}

/**
 * Writes the MTF/RLE2 symbols of the BWT output (block[ptr[i] − 1], cyclically) into mtfv and
 * their frequencies into mtfFreq[0 .. nInUse+1]; returns nMTF (EOB included).
 * `inUse[b]` is 1 for each of the nInUse byte values present in the block.
 */
export function generateMTFValues(
  ptr: Int32Array,
  block: Uint8Array,
  n: number,
  inUse: Uint8Array,
  nInUse: number,
  mtfv: Uint16Array,
  mtfFreq: Int32Array,
  ws: MtfWorkspace,
): number {
  const eob = nInUse + 1;
  mtfFreq.fill(0, 0, eob + 1);
  const m = ws.m;
  const rowStart = ROW_START;
  // The list holds byte values rather than their ranks among the used bytes (the MTF ranks are
  // the same and no per-symbol translation is needed): the used bytes in increasing order, which
  // is the identity order on ranks, then the unused ones, which never move. It is laid out at the
  // end of `list` so rows can grow leftwards.
  {
    let a = rowStart;
    for (let pass = 0; pass < 2; pass++) {
      for (let byte = 0; byte < 256; byte++) {
        if ((inUse[byte] === 1) === (pass === 0)) {
          const r = (a - rowStart) >> 4;
          if (((a - rowStart) & 15) === 0) m[ROW_BASE + r] = a;
          m[a++] = byte;
          m[ROW + byte] = r;
        }
      }
    }
  }
  if (ws.bwt.length < n) ws.bwt = new Uint8Array(n);
  const bwt = ws.bwt;
  gatherBwt(ptr, block, n, bwt);
  let wr = moveToFront(bwt, n, m[m[ROW_BASE]!]!, mtfv, mtfFreq, m, ws.relayoutScratch);
  mtfv[wr++] = eob;
  mtfFreq[eob]!++;
  return wr;
}

/** The BWT output column: the byte before each sorted rotation. */
function gatherBwt(ptr: Int32Array, block: Uint8Array, n: number, bwt: Uint8Array): void {
  for (let i = 0; i < n; i++) {
    let j = ptr[i]! - 1;
    j += (j >> 31) & n; // wrap -1 to n - 1 without a rarely taken branch
    bwt[i] = block[j]!;
  }
}

/** MTF and RLE2 of bwt[0, n) into mtfv (EOB not included); returns the count written. */
function moveToFront(
  bwt: Uint8Array,
  n: number,
  front: number,
  mtfv: Uint16Array,
  mtfFreq: Int32Array,
  m: Int32Array,
  relayoutScratch: Int32Array,
): number {
  let wr = 0;
  let moves = 0;
  let i = 0;
  while (i < n) {
    // A run of the front symbol (MTF rank 0) becomes RUNA/RUNB digits.
    let zPend = 0;
    while (i < n && bwt[i] === front) {
      i++;
      zPend++;
    }
    if (zPend > 0) {
      zPend--;
      for (;;) {
        const s = zPend & 1; // BZ_RUNB when odd, BZ_RUNA when even
        mtfv[wr++] = s;
        mtfFreq[s]!++;
        if (zPend < 2) break;
        zPend = (zPend - 2) >> 1;
      }
    }
    if (i === n) break;
    if ((moves++ & (RELAYOUT_MOVES - 1)) === 0) relayout(m, relayoutScratch);
    const c = bwt[i++]!;
    const r = m[ROW + c]!;
    const b = m[ROW_BASE + r]!;
    // libbzip2's shift-while-searching loop, confined to c's row: leaves a hole at the row front.
    let p = b;
    let carry = m[p]!;
    while (carry !== c) {
      p++;
      const t = m[p]!;
      m[p] = carry;
      carry = t;
    }
    const rank = (r << 4) + (p - b);
    if (r === 0) {
      m[b] = c;
    } else {
      // Each row above passes its last entry down into the hole at the front of the next row and
      // extends itself one slot to the left; row 0's new front slot receives c.
      let hole = b;
      for (let q = r - 1; q >= 0; q--) {
        const qb = m[ROW_BASE + q]!;
        const x = m[qb + 15]!;
        m[hole] = x;
        m[ROW + x] = q + 1;
        hole = qb - 1;
        m[ROW_BASE + q] = hole;
      }
      m[hole] = c;
      m[ROW + c] = 0;
    }
    front = c;
    mtfv[wr++] = rank + 1;
    mtfFreq[rank + 1]!++;
  }
  return wr;
}

/** Lays the 16 rows out again contiguously at ROW_START. */
function relayout(m: Int32Array, scratch: Int32Array): void {
  for (let r = 0, t = 0; r < 16; r++) {
    const b = m[ROW_BASE + r]!;
    for (let o = 0; o < 16; o++) scratch[t++] = m[b + o]!;
  }
  for (let r = 0, a = ROW_START, t = 0; r < 16; r++) {
    m[ROW_BASE + r] = a;
    for (let o = 0; o < 16; o++, a++, t++) m[a] = scratch[t]!;
  }
}

// BZ_RUNA/BZ_RUNB are 0 and 1, which the loops above rely on (zPend & 1 picks the digit).
if (BZ_RUNA !== 0 || BZ_RUNB !== 1) throw new Error('mtf.ts assumes RUNA = 0 and RUNB = 1');
