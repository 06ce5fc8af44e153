// The second half of a block: the inverse BWT (inverse-bwt.ts), derandomising pre-0.9.5 blocks, then
// RLE1 undone with the block CRC (libbzip2 bzlib.c unRLE_obuf_to_output_FAST). Resumable, so a block
// that expands to 46 MB (ch255.bz2) is produced in bounded pieces. Spec docs/spec/bzip2.md §1.2,
// §1.3, §4.2 (items 5-7).

import { WIDE_NUMBER_FIELD } from './bit-reader.js';
import { bzCrcFinal, bzCrcUpdate, BZ_CRC_INIT } from './crc.js';
import { DecodeFailure } from './decode-failure.js';
import { InverseBwt } from './inverse-bwt.js';
import { BZ2_R_NUMS } from './rand-table.js';

/** What the walk needs from the decoded block (BlockDecoder's fields). */
export interface DecodedBlock {
  tt: Int32Array;
  unzftab: Int32Array;
  nblock: number;
  origPtr: number;
  randomised: boolean;
  /** Bit offset reported if the block turns out to end in a 4-byte run without its count. */
  endBit: number;
}

/** Output is produced in pieces of at most this size: a block can expand to 46 MB, memory must not. */
export const PIECE_BYTES = 1 << 20;

/** `last` when no run is open: equal to no byte value, and not -1 (see unRle). */
const NO_BYTE = 256;

/** The RLE1 loop runs in calls of at most this many symbols (V8 optimises short calls early). */
const CHUNK_SYMBOLS = 4096;

export class BlockOutput {
  private readonly bwt = new InverseBwt();
  /** Position in the current segment of bwt.symbols, and the segment's end. */
  private symPos = 0;
  private segEnd = 0;
  /** Index of the next segment (bwt.segFrom/segTo, in text order). */
  private nextSeg = 0;
  /** Symbols of the block not decoded yet (libbzip2: save_nblock - nblock_used). */
  private left = 0;
  /** Byte of the current run, NO_BYTE right after a run count (a new run starts there). */
  private last = NO_BYTE;
  /** Length of the current run of equal bytes, 0..4; at 4 the next symbol is a count. */
  private runCount = 0;
  /** Bytes of a counted run not yet written because the piece was full. */
  private pendingRun = 0;
  private pendingByte = 0;
  private crc = WIDE_NUMBER_FIELD;
  private endBit = WIDE_NUMBER_FIELD;
  /** True once the whole block has been written. */
  done = true;

  /**
   * Undoes the BWT (the block's tt is free for the next block afterwards), derandomises a
   * pre-0.9.5 block, and resets the RLE1 decoding.
   */
  start(block: DecodedBlock): void {
    const bwt = this.bwt;
    bwt.run(block.tt, block.unzftab, block.nblock, block.origPtr);
    if (block.randomised) this.derandomise();
    this.nextSeg = 0;
    this.symPos = 0;
    this.segEnd = 0;
    this.left = block.nblock;
    this.last = NO_BYTE;
    this.runCount = 0;
    this.pendingRun = 0;
    this.crc = BZ_CRC_INIT;
    this.endBit = block.endBit;
    this.done = block.nblock === 0;
  }

  /** XORs symbol k of the text with 1 where libbzip2's BZ_RAND_MASK says (BZ2_rNums). */
  private derandomise(): void {
    const { symbols, segFrom, segTo, segmentCount } = this.bwt;
    let rNToGo = 0;
    let rTPos = 0;
    for (let s = 0; s < segmentCount; s++) {
      for (let k = segFrom[s]!; k < segTo[s]!; k++) {
        if (rNToGo === 0) {
          rNToGo = BZ2_R_NUMS[rTPos]!;
          rTPos = (rTPos + 1) & 511;
        }
        rNToGo--;
        if (rNToGo === 1) symbols[k]! ^= 1;
      }
    }
  }

  /**
   * Writes the next output bytes into out[pos, end) and returns the new position. Call until `done`.
   * Throws BZ2_DATA if the block ends with 4 equal bytes and no run count.
   */
  fill(out: Uint8Array, pos: number, end: number): number {
    let o = pos;
    if (this.pendingRun > 0) {
      const m = Math.min(this.pendingRun, end - o);
      out.fill(this.pendingByte, o, o + m);
      this.crc = bzCrcUpdate(this.crc, out, o, o + m);
      o += m;
      this.pendingRun -= m;
    }
    while (this.pendingRun === 0 && this.left > 0 && o < end) {
      if (this.symPos === this.segEnd) {
        this.symPos = this.bwt.segFrom[this.nextSeg]!;
        this.segEnd = this.bwt.segTo[this.nextSeg]!;
        this.nextSeg++;
      }
      o = this.unRle(out, o, end);
    }
    if (this.left === 0 && this.pendingRun === 0) {
      if (this.runCount === 4) {
        throw new DecodeFailure('BZ2_DATA', 'block ends with a run of 4 equal bytes and no run length', this.endBit);
      }
      this.done = true;
    }
    return o;
  }

  /** The block CRC as stored in the stream (valid once done). */
  get blockCrc(): number {
    return bzCrcFinal(this.crc);
  }

  /**
   * RLE1 undone from the current segment into out[pos, end), one chunk at most; the CRC is folded
   * over the bytes written afterwards, four at a time (per byte, its dependency chain would be the
   * loop's critical path).
   */
  private unRle(out: Uint8Array, pos: number, end: number): number {
    const symbols = this.bwt.symbols;
    let i = this.symPos;
    const stop = Math.min(this.segEnd, i + CHUNK_SYMBOLS);
    let last = this.last;
    let cnt = this.runCount;
    let o = pos;
    while (i < stop && o < end) {
      const c = symbols[i++]!;
      if (cnt === 4) {
        // c is the run length beyond the 4 bytes already written.
        cnt = 0;
        const m = Math.min(c, end - o);
        if (m < 16) {
          for (let k = 0; k < m; k++) out[o + k] = last;
        } else {
          out.fill(last, o, o + m);
        }
        o += m;
        if (m < c) {
          this.pendingRun = c - m;
          this.pendingByte = last;
        }
        last = NO_BYTE;
        continue;
      }
      // Branch-free: (c ^ last) - 1 is negative only when c === last (last is 0..255 or NO_BYTE).
      cnt = (((c ^ last) - 1) >>> 31) * cnt + 1;
      last = c;
      out[o++] = c;
    }
    this.crc = bzCrcUpdate(this.crc, out, pos, o);
    this.left -= i - this.symPos;
    this.symPos = i;
    this.last = last;
    this.runCount = cnt;
    return o;
  }
}
