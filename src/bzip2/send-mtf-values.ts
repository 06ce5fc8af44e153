// sendMTFValues (libbzip2 compress.c): chooses up to 6 Huffman tables and a table per group of 50
// symbols, then writes the symbol map, selectors, code lengths and the coded symbols.
// Spec: docs/spec/bzip2.md §1.4–§1.7 (format) and §1.9 (byte alignment for parallel writers).
//
// Table construction follows libbzip2 step by step (initial equal-frequency ranges, 4 refinement
// passes picking the cheapest table per group with strict "<" tie-breaking, 17-bit limit), so an
// unpadded block is bit-identical to bzip2's. With `alignToByte`, the block is then padded to end
// on a byte boundary the lbzip2 way: one dummy selector for an odd pad, and 1..3 extra +1/−1 steps
// on table 0's first code length for the even part, so parallel blocks concatenate as bytes.
//
// Each stage is a small function with one loop: V8 compiles small functions once and quickly,
// where one big function with many loops is recompiled (on-stack replacement) for each loop.

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
  /** code << 5 | length, for the writing loop. */
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

  // How many coding tables to use.
  const nGroups = nMTF < 200 ? 2 : nMTF < 600 ? 3 : nMTF < 1200 ? 4 : nMTF < 2400 ? 5 : 6;
  initialTables(len, mtfFreq, nMTF, alphaSize, nGroups);

  // Refine: pick the cheapest table for each group of 50, rebuild tables from what they coded.
  let nSelectors = 0;
  for (let iter = 0; iter < BZ_N_ITERS; iter++) {
    packLengths(len, ws.lenPack, alphaSize);
    rfreq.fill(0);
    nSelectors = assignTables(mtfv, nMTF, ws.lenPack, nGroups, ws.selector, rfreq);
    for (let t = 0; t < nGroups; t++) hbMakeCodeLengths(len, t * A, rfreq, t * A, alphaSize, MAX_CODE_LEN_GEN);
  }

  moveSelectorsToFront(ws.selector, ws.selectorMtf, nSelectors);
  assignCodes(len, ws.code, ws.codeLen, alphaSize, nGroups);
  const inUse16 = inUse16Bits(inUse);

  // lbzip2-style padding: count the block's remaining bits exactly first.
  let extraSelector = 0;
  let tablePadSteps = 0;
  if (alignToByte) {
    const bits = w.bitLength + countBits(len, rfreq, ws.selectorMtf, nSelectors, inUse16, alphaSize, nGroups);
    const pad = (8 - (bits & 7)) & 7;
    extraSelector = pad & 1;
    tablePadSteps = pad >> 1;
  }
  // The padding selector is never used by a group: MTF index 0, a single 0 bit.
  if (extraSelector) ws.selectorMtf[nSelectors] = 0;
  const nSelectorsOut = nSelectors + extraSelector;

  w.reserve(((nMTF * MAX_CODE_LEN_GEN) >> 3) + nSelectorsOut + 16 * 1024);
  writeSymbolMap(w, inUse, inUse16);
  writeSelectors(w, ws.selectorMtf, nSelectorsOut, nGroups);
  writeCodeLengths(w, len, alphaSize, nGroups, tablePadSteps);
  writeSymbols(w, mtfv, nMTF, ws.selector, ws.codeLen);
  w.bits(0, 0); // flushes the whole bytes writeSymbols left pending

  if (alignToByte && w.live !== 0) throw new Error(`sendMTFValues: padded block ends at bit ${w.live} of a byte`);
}

/** Initial tables: nGroups ranges of the alphabet holding roughly equal symbol counts. */
function initialTables(len: Uint8Array, mtfFreq: Int32Array, nMTF: number, alphaSize: number, nGroups: number): void {
  len.fill(BZ_GREATER_ICOST);
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

/**
 * Costs are packed three tables per int in 10-bit fields (a group costs at most 50 · 17 = 850
 * bits), two ints per symbol: tables 0-2, then 3-5. Unused tables have length 15.
 */
function packLengths(len: Uint8Array, lenPack: Int32Array, alphaSize: number): void {
  for (let v = 0; v < alphaSize; v++) {
    lenPack[2 * v] = len[v]! | (len[A + v]! << 10) | (len[2 * A + v]! << 20);
    lenPack[2 * v + 1] = len[3 * A + v]! | (len[4 * A + v]! << 10) | (len[5 * A + v]! << 20);
  }
}

/**
 * One refinement pass: the cheapest table for each group of 50 symbols (the first one on ties, as
 * libbzip2 keeps a cost only if strictly less) into selector[], and what each table codes into
 * rfreq. Returns the number of groups.
 */
function assignTables(
  mtfv: Uint16Array,
  nMTF: number,
  lenPack: Int32Array,
  nGroups: number,
  selector: Uint8Array,
  rfreq: Int32Array,
): number {
  let nSelectors = 0;
  for (let gs = 0; gs < nMTF; gs += BZ_G_SIZE) {
    const ge = gs + BZ_G_SIZE < nMTF ? gs + BZ_G_SIZE : nMTF;
    let cost012 = 0;
    let cost345 = 0;
    let i = gs;
    // Two symbols per step (groups have 50, the last one may be odd).
    for (; i + 1 < ge; i += 2) {
      const p = mtfv[i]! << 1;
      const q = mtfv[i + 1]! << 1;
      cost012 += lenPack[p]! + lenPack[q]!;
      cost345 += lenPack[p + 1]! + lenPack[q + 1]!;
    }
    if (i < ge) {
      const p = mtfv[i]! << 1;
      cost012 += lenPack[p]!;
      cost345 += lenPack[p + 1]!;
    }
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
  return nSelectors;
}

/** Selector MTF: the table ids in MTF order, packed as nibbles (at most 6 ids). */
function moveSelectorsToFront(selector: Uint8Array, selectorMtf: Uint8Array, nSelectors: number): void {
  let order = 0x543210;
  for (let i = 0; i < nSelectors; i++) {
    const v = selector[i]!;
    let j = 0;
    while (((order >>> (j << 2)) & 15) !== v) j++;
    const below = order & ((1 << (j << 2)) - 1);
    const above = order & ~((1 << ((j + 1) << 2)) - 1);
    order = above | (below << 4) | v;
    selectorMtf[i] = j;
  }
}

/** Canonical codes for each table, and code << 5 | length for the writer. */
function assignCodes(len: Uint8Array, code: Int32Array, codeLen: Int32Array, alphaSize: number, nGroups: number): void {
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
    for (let v = 0; v < alphaSize; v++) codeLen[off + v] = (code[off + v]! << 5) | len[off + v]!;
  }
}

/** Bit 15 − i set when some byte in [16i, 16i + 15] is used. */
function inUse16Bits(inUse: Uint8Array): number {
  let inUse16 = 0;
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      if (inUse[(i << 4) | j]) {
        inUse16 |= 0x8000 >>> i;
        break;
      }
    }
  }
  return inUse16;
}

/** Bits from the symbol map to the end of the coded symbols, unpadded. */
function countBits(
  len: Uint8Array,
  rfreq: Int32Array,
  selectorMtf: Uint8Array,
  nSelectors: number,
  inUse16: number,
  alphaSize: number,
  nGroups: number,
): number {
  let bits = 16 + 3 + 15 + 16 * popcount16(inUse16) + selectorBits(selectorMtf, nSelectors);
  for (let t = 0; t < nGroups; t++) bits += tableBits(len, rfreq, t * A, alphaSize);
  return bits;
}

function popcount16(x: number): number {
  let count = 0;
  for (let i = 0; i < 16; i++) count += (x >>> i) & 1;
  return count;
}

function selectorBits(selectorMtf: Uint8Array, nSelectors: number): number {
  let bits = 0;
  for (let i = 0; i < nSelectors; i++) bits += selectorMtf[i]! + 1;
  return bits;
}

/**
 * One table's code-length bits plus the bits of the symbols it codes: the last pass's rfreq counts
 * exactly the symbols each table codes with these lengths.
 */
function tableBits(len: Uint8Array, rfreq: Int32Array, off: number, alphaSize: number): number {
  let cur = len[off]!;
  let bits = 5;
  for (let i = 0; i < alphaSize; i++) {
    const l = len[off + i]!;
    bits += 1 + 2 * (l > cur ? l - cur : cur - l) + rfreq[off + i]! * l;
    cur = l;
  }
  return bits;
}

function writeSymbolMap(w: BitWriter, inUse: Uint8Array, inUse16: number): void {
  w.bits(16, inUse16);
  for (let i = 0; i < 16; i++) {
    if (inUse16 & (0x8000 >>> i)) {
      let bitsOfRange = 0;
      for (let j = 0; j < 16; j++) bitsOfRange = (bitsOfRange << 1) | (inUse[(i << 4) | j] ? 1 : 0);
      w.bits(16, bitsOfRange);
    }
  }
}

/** nGroups, nSelectors and the selectors' MTF indices in unary. */
function writeSelectors(w: BitWriter, selectorMtf: Uint8Array, nSelectors: number, nGroups: number): void {
  w.bits(3, nGroups);
  w.bits(15, nSelectors);
  for (let i = 0; i < nSelectors; i++) {
    const j = selectorMtf[i]!;
    w.bits(j + 1, ((1 << j) - 1) << 1);
  }
}

/** Code lengths as deltas; table 0 may start off by the padding steps. */
function writeCodeLengths(w: BitWriter, len: Uint8Array, alphaSize: number, nGroups: number, tablePadSteps: number): void {
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
}

/** The coded symbols, each group with its table. */
function writeSymbols(w: BitWriter, mtfv: Uint16Array, nMTF: number, selector: Uint8Array, codeLen: Int32Array): void {
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
      // At most 15 pending bits plus 17 new ones: the live bits fit in 32.
      acc = (acc << l) | (cl >>> 5);
      live += l;
      if (live >= 16) {
        live -= 16;
        out[pos] = acc >>> (live + 8);
        out[pos + 1] = acc >>> live;
        pos += 2;
      }
    }
    // Store the state per group (cheap), so nothing follows the loop: on-stack-replaced code never
    // runs into statements without type feedback. Up to 15 bits stay pending; see BitWriter.
    w.pos = pos;
    w.acc = acc;
    w.live = live;
  }
}
