// The second half of a block: inverse BWT links, then the walk that undoes RLE1 (libbzip2
// decompress.c "compute the T^(-1) vector" and bzlib.c unRLE_obuf_to_output_FAST), derandomising
// pre-0.9.5 blocks, with the block CRC. Resumable, so a block that expands to 46 MB (ch255.bz2) is
// produced in bounded pieces. Spec docs/spec/bzip2.md §1.2, §1.3, §4.2 (items 5-7).

import { WIDE_NUMBER_FIELD } from './bit-reader.js';
import { BZ_CRC_TABLE, bzCrcFinal, bzCrcUpdate, BZ_CRC_INIT } from './crc.js';
import { DecodeFailure } from './decode-failure.js';
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

/**
 * The link building and the walk run in calls of at most this many symbols: short, frequent calls
 * get V8's normal optimisation early, where one block-long loop would be compiled on the stack
 * (OSR) again and again, in every worker thread.
 */
const CHUNK_SYMBOLS = 1024;

/** Links rows [from, to): the rows holding byte c, in order, follow the rows cftab[c]... */
function linkRange(tt: Int32Array, cftab: Int32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = tt[i]! & 0xff;
    tt[cftab[c]!++]! |= i << 8;
  }
}

export class BlockOutput {
  private tt: Int32Array = new Int32Array(0);
  private readonly cftab = new Int32Array(257);
  private tPos = 0;
  /** Symbols of the block not walked yet (libbzip2: save_nblock - nblock_used). */
  private left = 0;
  /** Byte of the current run, -1 right after a run count (a new run starts there). */
  private last = -1;
  /** Length of the current run of equal bytes, 0..4; at 4 the next symbol is a count. */
  private runCount = 0;
  /** Bytes of a counted run not yet written because the piece was full. */
  private pendingRun = 0;
  private pendingByte = 0;
  private randomised = false;
  private rNToGo = 0;
  private rTPos = 0;
  private crc = WIDE_NUMBER_FIELD;
  private endBit = WIDE_NUMBER_FIELD;
  /** True once the whole block has been written. */
  done = true;

  /** Builds the links in tt (low byte = BWT output byte, high 24 bits = next row) and resets the walk. */
  start(block: DecodedBlock): void {
    const tt = block.tt;
    const nblock = block.nblock;
    const cftab = this.cftab;
    let sum = 0;
    for (let c = 0; c < 256; c++) {
      cftab[c] = sum;
      sum += block.unzftab[c]!;
    }
    for (let i = 0; i < nblock; i += CHUNK_SYMBOLS) linkRange(tt, cftab, i, Math.min(nblock, i + CHUNK_SYMBOLS));
    this.tt = tt;
    this.tPos = tt[block.origPtr]! >>> 8;
    this.left = nblock;
    this.last = -1;
    this.runCount = 0;
    this.pendingRun = 0;
    this.randomised = block.randomised;
    this.rNToGo = 0;
    this.rTPos = 0;
    this.crc = BZ_CRC_INIT;
    this.endBit = block.endBit;
    this.done = nblock === 0;
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
      if (this.randomised) {
        const from = o;
        o = this.walkRandomised(out, o, end);
        this.crc = bzCrcUpdate(this.crc, out, from, o);
      } else {
        o = this.walk(out, o, end);
      }
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
   * The walk, with the CRC folded in a byte at a time: each step waits for a cache miss on tt (the
   * links of a 900k block do not fit in L2), and the CRC's table lookups run in that shadow.
   */
  private walk(out: Uint8Array, pos: number, end: number): number {
    const tt = this.tt;
    const crcTable = BZ_CRC_TABLE;
    let crc = this.crc;
    let p = this.tPos;
    let left = this.left;
    let last = this.last;
    let cnt = this.runCount;
    let o = pos;
    const stop = left > CHUNK_SYMBOLS ? left - CHUNK_SYMBOLS : 0;
    while (left > stop && o < end) {
      const v = tt[p]!;
      p = v >>> 8;
      const c = v & 0xff;
      left--;
      if (cnt === 4) {
        // c is the run length beyond the 4 bytes already written.
        cnt = 0;
        if (c > 0) {
          const room = end - o;
          const m = c <= room ? c : room;
          if (m < 16) {
            for (let k = 0; k < m; k++) {
              out[o + k] = last;
              crc = (crc << 8) ^ crcTable[(crc >>> 24) ^ last]!;
            }
          } else {
            out.fill(last, o, o + m);
            crc = bzCrcUpdate(crc, out, o, o + m);
          }
          o += m;
          if (m < c) {
            this.pendingRun = c - m;
            this.pendingByte = last;
          }
        }
        last = -1;
        continue;
      }
      if (c === last) cnt++;
      else {
        last = c;
        cnt = 1;
      }
      out[o++] = c;
      crc = (crc << 8) ^ crcTable[(crc >>> 24) ^ c]!;
    }
    this.crc = crc;
    this.tPos = p;
    this.left = left;
    this.last = last;
    this.runCount = cnt;
    return o;
  }

  /** walk() for randomised blocks: symbol k is XORed with 1 where libbzip2's BZ_RAND_MASK says. */
  private walkRandomised(out: Uint8Array, pos: number, end: number): number {
    const tt = this.tt;
    let p = this.tPos;
    let left = this.left;
    let last = this.last;
    let cnt = this.runCount;
    let rNToGo = this.rNToGo;
    let rTPos = this.rTPos;
    let o = pos;
    const stop = left > CHUNK_SYMBOLS ? left - CHUNK_SYMBOLS : 0;
    while (left > stop && o < end) {
      const v = tt[p]!;
      p = v >>> 8;
      let c = v & 0xff;
      left--;
      if (rNToGo === 0) {
        rNToGo = BZ2_R_NUMS[rTPos]!;
        rTPos = (rTPos + 1) & 511;
      }
      rNToGo--;
      if (rNToGo === 1) c ^= 1;
      if (cnt === 4) {
        cnt = 0;
        const room = end - o;
        if (c <= room) {
          out.fill(last, o, o + c);
          o += c;
        } else {
          out.fill(last, o, end);
          o = end;
          this.pendingRun = c - room;
          this.pendingByte = last;
        }
        last = -1;
        continue;
      }
      if (c === last) cnt++;
      else {
        last = c;
        cnt = 1;
      }
      out[o++] = c;
    }
    this.tPos = p;
    this.left = left;
    this.last = last;
    this.runCount = cnt;
    this.rNToGo = rNToGo;
    this.rTPos = rTPos;
    return o;
  }
}
