// Decodes one bzip2 block up to the inverse BWT input: header, symbol map, selectors, code-length
// tables, then Huffman + RLE2 + inverse MTF into tt (libbzip2 decompress.c, states BZ_X_BCRC_1 to
// BZ_X_MTF_6). Spec docs/spec/bzip2.md §1.3-1.7 and the checklist in §1.10.

import { BitReader, WIDE_NUMBER_FIELD } from './bit-reader.js';
import { BZ_G_SIZE, BZ_MAX_ALPHA_SIZE, BZ_MAX_SELECTORS, BZ_N_GROUPS } from './constants.js';
import type { DecodeFailure } from './decode-failure.js';
import { HuffmanDecodeTables, LEN_STRIDE, LOOKUP_BITS, MAX_CODE_LEN } from './huffman-decode.js';

/**
 * Most up/down steps accepted for one symbol's code length. bzip2 itself has no bound, so a crafted
 * table could make a block arbitrarily long; real encoders need at most 19 (+3 for lbzip2's padding).
 * The bound keeps every block within maxCompressedBlockBytes(), which bounds our input buffering.
 */
export const MAX_CODE_LEN_STEPS = 64;

/** Largest RUNA/RUNB weight libbzip2 accepts before failing (CVE-2010-0405 guard). */
const MAX_RUN_WEIGHT = 2 * 1024 * 1024;

/**
 * Upper bound on the compressed size of a block of a level-`level` stream, magic included: fixed
 * header fields, 32767 selectors of at most 6 bits, 6 capped code-length tables, and at most
 * (level*100000 + 2) Huffman symbols of at most 21 bits (the 21st bit is where a bad code fails).
 */
export function maxCompressedBlockBytes(level: number): number {
  const headerBits = 48 + 32 + 1 + 24 + 16 + 256 + 3 + 15;
  const selectorBits = 32767 * 6;
  const tableBits = BZ_N_GROUPS * (5 + BZ_MAX_ALPHA_SIZE * (1 + 2 * MAX_CODE_LEN_STEPS + 1));
  const symbolBits = (level * 100000 + 2) * 21;
  return Math.ceil((headerBits + selectorBits + tableBits + symbolBits) / 8) + 8;
}

export class BlockDecoder {
  readonly reader = new BitReader();
  readonly tables = new HuffmanDecodeTables();
  /** Low 8 bits: the BWT output byte of each row (filled here); bits 8-27: links (inverse-bwt.ts). */
  tt: Int32Array = new Int32Array(0);
  /** Occurrences of each byte value in the block (libbzip2 unzftab). */
  readonly unzftab = new Int32Array(256);
  private readonly selectors = new Uint8Array(BZ_MAX_SELECTORS);
  private readonly length = new Uint8Array(BZ_MAX_ALPHA_SIZE);
  private readonly seqToUnseq = new Uint8Array(256);
  /** The MTF list, holding byte values (seqToUnseq already applied). */
  private readonly mtf = new Uint8Array(256);
  /** mtfPrefix[j] = mtf[0, j): mtf.set(mtfPrefix[j], 1) moves them up by one (see decodeGroup). */
  private readonly mtfPrefix = Array.from({ length: 256 }, (_, j) => this.mtf.subarray(0, j));

  // State of decodeMtfValues() between decodeGroup() calls.
  private view: DataView = new DataView(new ArrayBuffer(0));
  private fastEndBit = WIDE_NUMBER_FIELD;
  private bitPos = WIDE_NUMBER_FIELD;
  private symCount = 0;
  private runLength = 0;
  private runWeight = 1;

  // Results of the last decode().
  storedBlockCrc = WIDE_NUMBER_FIELD;
  randomised = false;
  origPtr = 0;
  nblock = 0;
  /** Bit offset just past the block's last bit (end-of-block symbol). */
  endBit = WIDE_NUMBER_FIELD;

  /**
   * Decodes the block whose 48-bit magic ends at bit `bitOffset` of `data[0, endByte)`.
   * `maxBlockBytes` is 100000 x the stream's level. Throws DecodeFailure: BZ2_TRUNCATED as soon as
   * the block needs a bit past endByte, BZ2_DATA for anything bzip2 1.0.8 rejects.
   */
  decode(data: Uint8Array, endByte: number, bitOffset: number, maxBlockBytes: number): void {
    const br = this.reader;
    br.reset(data, endByte, bitOffset);
    if (this.tt.length <= maxBlockBytes) this.tt = new Int32Array(maxBlockBytes + 1); // + a spare row for inverse-bwt.ts

    // BZ_X_BCRC_1..4, BZ_X_RANDBIT, BZ_X_ORIGPTR_1..3
    this.storedBlockCrc = br.bits32();
    this.randomised = br.bit() === 1;
    const origPtr = br.bits(24);
    if (origPtr > 10 + maxBlockBytes) throw br.fail('origPtr out of range', `<= ${10 + maxBlockBytes}`, origPtr);
    this.origPtr = origPtr;

    const nInUse = this.readMapping();
    const alphaSize = nInUse + 2;

    // BZ_X_SELECTOR_1..3
    const nGroups = br.bits(3);
    if (nGroups < 2 || nGroups > BZ_N_GROUPS) throw br.fail('bad number of Huffman tables', '2..6', nGroups);
    const nSelectors = this.readSelectors(nGroups);

    // BZ_X_CODING_1..3
    for (let t = 0; t < nGroups; t++) this.readCodingTable(t, alphaSize);

    this.decodeMtfValues(nInUse, nSelectors, maxBlockBytes);
  }

  /** BZ_X_MAPPING_1/2: the two-level bitmap of byte values used in the block; returns nInUse. */
  private readMapping(): number {
    const br = this.reader;
    const inUse16 = br.bits(16);
    let nInUse = 0;
    for (let i = 0; i < 16; i++) {
      if ((inUse16 & (0x8000 >>> i)) === 0) continue;
      const w = br.bits(16);
      for (let j = 0; j < 16; j++) if (w & (0x8000 >>> j)) this.seqToUnseq[nInUse++] = i * 16 + j;
    }
    if (nInUse === 0) throw br.fail('empty symbol map (no byte values in use)');
    return nInUse;
  }

  /** BZ_X_SELECTOR_2/3: selectors in unary MTF coding, undone with the MTF list packed in nibbles. */
  private readSelectors(nGroups: number): number {
    const br = this.reader;
    let nSelectors = br.bits(15);
    if (nSelectors < 1) throw br.fail('no selectors', '>= 1', 0);
    let list = 0x543210;
    // In runs of 256: short calls get V8's normal optimisation instead of an on-stack replacement.
    for (let i = 0; i < nSelectors; i += 256) list = this.readSelectorRun(i, Math.min(nSelectors, i + 256), nGroups, list);
    if (nSelectors > BZ_MAX_SELECTORS) nSelectors = BZ_MAX_SELECTORS;
    return nSelectors;
  }

  /** Selectors [from, to); `list` is the MTF list of table ids packed in nibbles, returned updated. */
  private readSelectorRun(from: number, to: number, nGroups: number, list: number): number {
    const br = this.reader;
    const sel = this.selectors;
    for (let i = from; i < to; i++) {
      let j = 0;
      while (br.bit() === 1) {
        j++;
        if (j >= nGroups) throw br.fail(`selector ${i} out of range`, `< ${nGroups}`, j);
      }
      const shift = j << 2;
      const v = (list >>> shift) & 15;
      // Move nibble j to the front: the j nibbles below it shift up by one.
      list = (list & ~((16 << shift) - 1)) | ((list & ((1 << shift) - 1)) << 4) | v;
      // bzip2 1.0.8 reads up to 32767 selectors but uses only the first BZ_MAX_SELECTORS.
      if (i < BZ_MAX_SELECTORS) sel[i] = v;
    }
    return list;
  }

  /** BZ_X_CODING_1..3: a 5-bit start length, then per symbol delta steps ended by a 0 bit. */
  private readCodingTable(t: number, alphaSize: number): void {
    const br = this.reader;
    const len = this.length;
    let curr = br.bits(5);
    for (let i = 0; i < alphaSize; i++) {
      let steps = 0;
      for (;;) {
        if (curr < 1 || curr > MAX_CODE_LEN) throw br.fail(`code length out of range in table ${t}`, '1..20', curr);
        if (br.bit() === 0) break;
        curr += br.bit() === 0 ? 1 : -1;
        if (++steps > MAX_CODE_LEN_STEPS) throw br.fail(`too many code-length steps in table ${t}`, `<= ${MAX_CODE_LEN_STEPS}`, steps);
      }
      len[i] = curr;
    }
    this.tables.build(t, len, alphaSize);
  }

  /**
   * BZ_X_MTF_1..6: Huffman symbols, RUNA/RUNB runs (bijective base 2) and inverse MTF into tt, one
   * group of 50 symbols per decodeGroup() call. The hot code lives in a function called thousands of
   * times per block, so V8 optimises it once, early and normally, instead of compiling on-stack
   * replacements of a block-long loop again and again (in every worker thread).
   */
  private decodeMtfValues(nInUse: number, nSelectors: number, nblockMax: number): void {
    const br = this.reader;
    const data = br.data;
    this.unzftab.fill(0);
    const mtf = this.mtf;
    for (let i = 0; i < nInUse; i++) mtf[i] = this.seqToUnseq[i]!;
    this.view = new DataView(data.buffer, data.byteOffset, data.length);
    this.fastEndBit = (br.endByte - 4) * 8;
    this.bitPos = br.bitOffset;
    this.symCount = 0;
    this.runLength = 0;
    this.runWeight = 1;
    const selectors = this.selectors;
    const eob = nInUse + 1;
    for (let groupNo = 0; ; groupNo++) {
      if (groupNo >= nSelectors) {
        this.seek(this.bitPos);
        throw br.fail('ran out of selectors', `< ${nSelectors}`, groupNo);
      }
      if (this.decodeGroup(selectors[groupNo]!, eob, nblockMax)) break;
    }
    this.seek(this.bitPos);
    br.checkEnd();
    this.endBit = this.bitPos;
    const nblock = this.symCount;
    if (this.origPtr >= nblock) throw br.fail('origPtr out of range', `< ${nblock}`, this.origPtr);
    this.nblock = nblock;
  }

  /**
   * Decodes up to 50 symbols with table `t`; true once the end-of-block symbol was read. Symbols are
   * read at a bit position with one unaligned 32-bit big-endian load each (DataView loads are
   * inlined): no refill branch. Within 4 bytes of the end the reader takes over, which feeds zeros
   * past the end and reports truncation.
   */
  private decodeGroup(t: number, eob: number, nblockMax: number): boolean {
    const { lookup, limit, base, perm, slowStart } = this.tables;
    const view = this.view;
    const fastEndBit = this.fastEndBit;
    const tt = this.tt;
    const unzftab = this.unzftab;
    const mtf = this.mtf;
    const mtfPrefix = this.mtfPrefix;
    const tOff = t << LOOKUP_BITS;
    let bitPos = this.bitPos;
    let nblock = this.symCount;
    let es = this.runLength; // run of the front symbol so far
    let runWeight = this.runWeight; // libbzip2's N
    let ended = false;
    for (let groupPos = 0; groupPos < BZ_G_SIZE; groupPos++) {
      let window: number;
      if (bitPos <= fastEndBit) {
        window = view.getUint32(bitPos >>> 3) << (bitPos & 7);
      } else {
        window = this.windowNearEnd(bitPos);
      }
      let sym: number;
      const entry = lookup[tOff + (window >>> (32 - LOOKUP_BITS))]!;
      if (entry !== 0) {
        sym = entry >>> 4;
        bitPos += entry & 15;
      } else {
        // libbzip2's limit search, one length at a time (the window holds at least 25 bits).
        const lOff = t * LEN_STRIDE;
        let zn = slowStart[t]!;
        let zvec = window >>> (32 - zn);
        while (zvec > limit[lOff + zn]!) {
          // bzip2 has consumed 21 bits when it gives up.
          if (++zn > MAX_CODE_LEN) throw this.failAt(bitPos + 21, 'invalid Huffman code');
          zvec = window >>> (32 - zn);
        }
        bitPos += zn;
        const idx = zvec - base[lOff + zn]!;
        if (idx < 0 || idx > eob) throw this.failAt(bitPos, 'invalid Huffman code');
        sym = perm[t * BZ_MAX_ALPHA_SIZE + idx]!;
      }

      if (sym <= 1) {
        // RUNA (weight 1) or RUNB (weight 2), least significant digit first.
        if (runWeight >= MAX_RUN_WEIGHT) throw this.failAt(bitPos, 'run of repeated bytes too long', MAX_RUN_WEIGHT, runWeight);
        es += (sym + 1) * runWeight;
        runWeight <<= 1;
        continue;
      }
      if (es > 0) {
        const uc = mtf[0]!;
        if (nblock + es > nblockMax) throw this.failAt(bitPos, 'block longer than the stream level allows', nblockMax, nblock + es);
        unzftab[uc]! += es;
        if (es < 32) {
          for (let k = nblock + es - 1; k >= nblock; k--) tt[k] = uc;
        } else {
          tt.fill(uc, nblock, nblock + es);
        }
        nblock += es;
        es = 0;
        runWeight = 1;
      }
      if (sym === eob) {
        ended = true;
        break;
      }
      if (nblock >= nblockMax) throw this.failAt(bitPos, 'block longer than the stream level allows', nblockMax, nblock + 1);
      // Inverse MTF: rank sym-1 moves to the front. set() from a fixed prefix view is a memmove
      // for a flat ~22 ns (copyWithin, a C++ builtin, costs more: 7% of the whole decode here);
      // a JS loop costs ~1.4 ns per byte, so it wins below 16.
      const j = sym - 1;
      const uc = mtf[j]!;
      if (j < 16) {
        for (let k = j; k > 0; k--) mtf[k] = mtf[k - 1]!;
      } else {
        mtf.set(mtfPrefix[j]!, 1);
      }
      mtf[0] = uc;
      unzftab[uc]!++;
      tt[nblock++] = uc;
    }
    this.bitPos = bitPos;
    this.symCount = nblock;
    this.runLength = es;
    this.runWeight = runWeight;
    return ended;
  }

  /** The 32-bit window at `bitPos` within 4 bytes of the end (zeros past it); throws at a truncation. */
  private windowNearEnd(bitPos: number): number {
    const br = this.reader;
    br.seek(bitPos);
    br.fill();
    br.checkEnd();
    // `| 0`: the field holds a double; the hot loop expects a 32-bit integer.
    return br.bitBuf | 0;
  }

  /** A structural error found at `bitPos` (or the truncation bzip2 would have reported first). */
  private failAt(bitPos: number, reason: string, limit?: number, actual?: number): DecodeFailure {
    this.seek(bitPos);
    return this.reader.fail(reason, limit === undefined ? undefined : `<= ${limit}`, actual);
  }

  /** Puts the reader at bit `bitPos` of its buffer (for its EOF accounting and error offsets). */
  private seek(bitPos: number): void {
    this.reader.seek(bitPos);
  }
}

