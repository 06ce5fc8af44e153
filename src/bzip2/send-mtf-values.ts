// sendMTFValues (libbzip2 compress.c): chooses up to 6 Huffman tables and a table per group of 50
// symbols, then writes the symbol map, selectors, code lengths and the coded symbols.
// Spec: ../shared/spec/bzip2.md §1.4–§1.7 (format) and §1.9 (byte alignment for parallel writers).
//
// Table construction follows libbzip2 step by step (initial equal-frequency ranges, 4 refinement
// passes picking the cheapest table per group with strict "<" tie-breaking, 17-bit limit), so an
// unpadded block is bit-identical to bzip2's. With `alignToByte`, the block is then padded to end
// on a byte boundary the lbzip2 way: one dummy selector for an odd pad, and 1..3 extra +1/−1 steps
// on table 0's first code length for the even part, so parallel blocks concatenate as bytes.

import { BitWriter } from './bit-writer.js';
import { BZ_G_SIZE, BZ_MAX_ALPHA_SIZE, BZ_MAX_SELECTORS, BZ_N_GROUPS, BZ_N_ITERS } from './constants.js';
import { hbAssignCodes, hbMakeCodeLengths } from './huffman.js';

const BZ_LESSER_ICOST = 0;
const BZ_GREATER_ICOST = 15;
/** libbzip2 ≥ 1.0.3 limits generated codes to 17 bits (decoders accept 20). */
const MAX_CODE_LEN_GEN = 17;
const A = BZ_MAX_ALPHA_SIZE;

export class SendWorkspace {
  /** len[t * 258 + v]: code length of symbol v in table t. */
  readonly len = new Uint8Array(BZ_N_GROUPS * A);
  readonly code = new Int32Array(BZ_N_GROUPS * A);
  readonly codeLen = new Int32Array(BZ_N_GROUPS * A);
  readonly rfreq = new Int32Array(BZ_N_GROUPS * A);
  /** Code lengths of tables 0-2 and 3-5 in 10-bit fields, two ints per symbol (libbzip2's len_pack, denser). */
  readonly lenPack = new Int32Array(A * 2);
  /** One more than libbzip2 needs: room for the padding selector. */
  readonly selector = new Uint8Array(BZ_MAX_SELECTORS + 1);
  readonly selectorMtf = new Uint8Array(BZ_MAX_SELECTORS + 1);
}

/**
 * Writes everything after origPtr for one block. `inUse` marks the bytes present in the block;
 * mtfv[0, nMTF) and mtfFreq come from generateMTFValues. When `alignToByte` is set the block ends
 * on a byte boundary of `w` (the caller starts it on one).
 */
export function sendMTFValues(
  mtfv: Uint16Array,
  nMTF: number,
  mtfFreq: Int32Array,
  nInUse: number,
  inUse: Uint8Array,
  w: BitWriter,
  ws: SendWorkspace,
  alignToByte: boolean,
): void {
  const alphaSize = nInUse + 2;
  const len = ws.len;
  const rfreq = ws.rfreq;
  const lenPack = ws.lenPack;
  const selector = ws.selector;
  len.fill(BZ_GREATER_ICOST);

  // How many coding tables to use.
  const nGroups = nMTF < 200 ? 2 : nMTF < 600 ? 3 : nMTF < 1200 ? 4 : nMTF < 2400 ? 5 : 6;

  // Initial tables: nGroups ranges of the alphabet holding roughly equal symbol counts.
  {
    let nPart = nGroups;
    let remF = nMTF;
    let gs = 0;
    while (nPart > 0) {
      const tFreq = Math.trunc(remF / nPart);
      let ge = gs - 1;
      let aFreq = 0;
      while (aFreq < tFreq && ge < alphaSize - 1) {
        ge++;
        aFreq += mtfFreq[ge]!;
      }
      if (ge > gs && nPart !== nGroups && nPart !== 1 && (nGroups - nPart) % 2 === 1) {
        aFreq -= mtfFreq[ge]!;
        ge--;
      }
      const off = (nPart - 1) * A;
      for (let v = 0; v < alphaSize; v++) len[off + v] = v >= gs && v <= ge ? BZ_LESSER_ICOST : BZ_GREATER_ICOST;
      nPart--;
      gs = ge + 1;
      remF -= aFreq;
    }
  }

  // Refine: pick the cheapest table for each group of 50, rebuild tables from what they coded.
  let nSelectors = 0;
  for (let iter = 0; iter < BZ_N_ITERS; iter++) {
    rfreq.fill(0);
    // Costs packed three tables per int in 10-bit fields (a group costs at most 50 · 17 = 850
    // bits), two ints per symbol: tables 0-2, then 3-5.
    for (let v = 0; v < alphaSize; v++) {
      lenPack[2 * v] = len[v]! | (len[A + v]! << 10) | (len[2 * A + v]! << 20);
      lenPack[2 * v + 1] = len[3 * A + v]! | (len[4 * A + v]! << 10) | (len[5 * A + v]! << 20);
    }
    nSelectors = 0;
    for (let gs = 0; gs < nMTF; gs += BZ_G_SIZE) {
      const ge = gs + BZ_G_SIZE < nMTF ? gs + BZ_G_SIZE : nMTF;
      let cost012 = 0;
      let cost345 = 0;
      for (let i = gs; i < ge; i++) {
        const p = mtfv[i]! << 1;
        cost012 += lenPack[p]!;
        cost345 += lenPack[p + 1]!;
      }
      // The cheapest table, the first one on ties (libbzip2 keeps a cost only if strictly less).
      let bt = 0;
      let bc = cost012 & 1023;
      let c = (cost012 >>> 10) & 1023;
      if (c < bc) {
        bc = c;
        bt = 1;
      }
      if (nGroups > 2) {
        c = cost012 >>> 20;
        if (c < bc) {
          bc = c;
          bt = 2;
        }
        if (nGroups > 3) {
          c = cost345 & 1023;
          if (c < bc) {
            bc = c;
            bt = 3;
          }
          if (nGroups > 4) {
            c = (cost345 >>> 10) & 1023;
            if (c < bc) {
              bc = c;
              bt = 4;
            }
            if (nGroups > 5) {
              c = cost345 >>> 20;
              if (c < bc) {
                bc = c;
                bt = 5;
              }
            }
          }
        }
      }
      selector[nSelectors++] = bt;
      const off = bt * A;
      for (let i = gs; i < ge; i++) rfreq[off + mtfv[i]!]!++;
    }
    for (let t = 0; t < nGroups; t++) hbMakeCodeLengths(len, t * A, rfreq, t * A, alphaSize, MAX_CODE_LEN_GEN);
  }

  // Selector MTF.
  const selectorMtf = ws.selectorMtf;
  {
    // The table ids in MTF order, packed as nibbles (at most 6 ids).
    let order = 0x543210;
    for (let i = 0; i < nSelectors; i++) {
      const v = selector[i]!;
      let j = 0;
      while (((order >>> (j << 2)) & 15) !== v) j++;
      // Move nibble j to the front.
      const below = order & ((1 << (j << 2)) - 1);
      const above = order & ~((1 << ((j + 1) << 2)) - 1);
      order = above | (below << 4) | v;
      selectorMtf[i] = j;
    }
  }

  // Canonical codes.
  const code = ws.code;
  for (let t = 0; t < nGroups; t++) {
    let minLen = 32;
    let maxLen = 0;
    const off = t * A;
    for (let i = 0; i < alphaSize; i++) {
      const l = len[off + i]!;
      if (l > maxLen) maxLen = l;
      if (l < minLen) minLen = l;
    }
    hbAssignCodes(code, off, len, off, minLen, maxLen, alphaSize);
  }

  // Symbol map bits.
  let inUse16 = 0;
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      if (inUse[(i << 4) | j]) {
        inUse16 |= 0x8000 >>> i;
        break;
      }
    }
  }

  // lbzip2-style padding: count the block's remaining bits exactly first.
  let extraSelector = 0;
  let tablePadSteps = 0;
  if (alignToByte) {
    let bits = w.bitLength + 16 + 3 + 15;
    for (let i = 0; i < 16; i++) if (inUse16 & (0x8000 >>> i)) bits += 16;
    for (let i = 0; i < nSelectors; i++) bits += selectorMtf[i]! + 1;
    for (let t = 0; t < nGroups; t++) {
      const off = t * A;
      let cur = len[off]!;
      bits += 5;
      for (let i = 0; i < alphaSize; i++) {
        const l = len[off + i]!;
        bits += 1 + 2 * (l > cur ? l - cur : cur - l);
        cur = l;
      }
    }
    // The last pass's rfreq counts exactly the symbols each table codes with these lengths.
    for (let t = 0; t < nGroups; t++) {
      const off = t * A;
      for (let v = 0; v < alphaSize; v++) bits += rfreq[off + v]! * len[off + v]!;
    }
    const pad = (8 - (bits & 7)) & 7;
    extraSelector = pad & 1;
    tablePadSteps = pad >> 1;
  }
  // The padding selector is never used by a group: MTF index 0, a single 0 bit.
  if (extraSelector) selectorMtf[nSelectors] = 0;
  const nSelectorsOut = nSelectors + extraSelector;

  w.reserve(((nMTF * MAX_CODE_LEN_GEN) >> 3) + nSelectorsOut + 16 * 1024);

  // Symbol map.
  w.bits(16, inUse16);
  for (let i = 0; i < 16; i++) {
    if (inUse16 & (0x8000 >>> i)) {
      let bitsOfRange = 0;
      for (let j = 0; j < 16; j++) bitsOfRange = (bitsOfRange << 1) | (inUse[(i << 4) | j] ? 1 : 0);
      w.bits(16, bitsOfRange);
    }
  }

  // Selectors, in unary.
  w.bits(3, nGroups);
  w.bits(15, nSelectorsOut);
  for (let i = 0; i < nSelectorsOut; i++) {
    const j = selectorMtf[i]!;
    w.bits(j + 1, ((1 << j) - 1) << 1);
  }

  // Code lengths as deltas; table 0 may start off by the padding steps.
  for (let t = 0; t < nGroups; t++) {
    const off = t * A;
    let cur = len[off]!;
    if (t === 0 && tablePadSteps > 0) cur = cur < 4 ? cur + tablePadSteps : cur - tablePadSteps;
    w.bits(5, cur);
    for (let i = 0; i < alphaSize; i++) {
      const l = len[off + i]!;
      while (cur < l) {
        w.bits(2, 2);
        cur++;
      }
      while (cur > l) {
        w.bits(2, 3);
        cur--;
      }
      w.bits(1, 0);
    }
  }

  // The coded symbols; code and length packed in one int (code << 5 | length).
  const codeLen = ws.codeLen;
  for (let t = 0; t < nGroups; t++) {
    const off = t * A;
    for (let v = 0; v < alphaSize; v++) codeLen[off + v] = (code[off + v]! << 5) | len[off + v]!;
  }
  const out = w.out;
  let pos = w.pos;
  let acc = w.acc;
  let live = w.live;
  for (let gs = 0, s = 0; gs < nMTF; gs += BZ_G_SIZE, s++) {
    const ge = gs + BZ_G_SIZE < nMTF ? gs + BZ_G_SIZE : nMTF;
    const off = selector[s]! * A;
    for (let i = gs; i < ge; i++) {
      const cl = codeLen[off + mtfv[i]!]!;
      const l = cl & 31;
      // At most 7 pending bits plus 17 new ones: the live bits fit in 32.
      acc = (acc << l) | (cl >>> 5);
      live += l;
      if (live >= 16) {
        live -= 16;
        out[pos] = acc >>> (live + 8);
        out[pos + 1] = acc >>> live;
        pos += 2;
      }
      if (live >= 8) {
        live -= 8;
        out[pos++] = acc >>> live;
      }
    }
  }
  w.pos = pos;
  w.acc = acc & ((1 << live) - 1);
  w.live = live;

  if (alignToByte && w.live !== 0) throw new Error(`sendMTFValues: padded block ends at bit ${w.live} of a byte`);
}
