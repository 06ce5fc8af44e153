// MSB-first bit reader over an in-memory buffer, for the block and stream headers (libbzip2
// decompress.c GET_BITS / GET_UCHAR). The Huffman loop in decode-block.ts copies this state into
// locals. Spec docs/spec/bzip2.md §1 (bit order) and §1.10 (EOF reported before other errors).

import { DecodeFailure } from './decode-failure.js';

/**
 * Initial value for number fields that will hold full 32-bit values (bit windows, CRCs) or offsets
 * that can pass 2^30: not a small integer, so V8 gives the field a double representation from the
 * start. Otherwise the first large value generalises the field and deoptimises every function that
 * uses the class, again in every worker thread.
 */
export const WIDE_NUMBER_FIELD = 2 ** 31;

export class BitReader {
  data: Uint8Array = new Uint8Array(0);
  /** Bytes [0, endByte) of `data` are input; past them the reader feeds zeros and counts them. */
  endByte = 0;
  /** Next byte of `data` to load into the window. */
  bytePos = 0;
  /** Window of `bitCount` valid bits, MSB-aligned in a 32-bit int. */
  bitBuf = WIDE_NUMBER_FIELD;
  bitCount = 0;
  /** Zero bytes fed past endByte. */
  overBytes = 0;

  /** Starts reading `data[0, endByte)` at bit offset `bitOffset`. */
  reset(data: Uint8Array, endByte: number, bitOffset: number): void {
    this.data = data;
    this.endByte = endByte;
    this.bytePos = bitOffset >>> 3;
    this.bitBuf = 0;
    this.bitCount = 0;
    this.overBytes = 0;
    const skip = bitOffset & 7;
    if (skip) this.bits(skip);
  }

  /**
   * Moves to bit `bitOffset` of the same buffer. Past the end, the reader counts as having consumed
   * zeros up to there (so pastEnd and fail() report the truncation).
   */
  seek(bitOffset: number): void {
    const endBit = this.endByte * 8;
    if (bitOffset <= endBit) {
      this.reset(this.data, this.endByte, bitOffset);
      return;
    }
    this.bytePos = this.endByte;
    this.overBytes = Math.ceil((bitOffset - endBit) / 8);
    this.bitCount = this.overBytes * 8 - (bitOffset - endBit);
    this.bitBuf = 0;
  }

  /** Bit offset of the next unread bit. */
  get bitOffset(): number {
    return (this.bytePos + this.overBytes) * 8 - this.bitCount;
  }

  /** True once a bit past the end of the input has been consumed. */
  get pastEnd(): boolean {
    return this.bitOffset > this.endByte * 8;
  }

  /** Loads bytes until at least 25 bits are in the window (zeros past the end). */
  fill(): void {
    let b = this.bitBuf;
    let n = this.bitCount;
    let p = this.bytePos;
    const d = this.data;
    const end = this.endByte;
    while (n <= 24) {
      if (p < end) b |= d[p++]! << (24 - n);
      else this.overBytes++;
      n += 8;
    }
    this.bitBuf = b;
    this.bitCount = n;
    this.bytePos = p;
  }

  /** Reads `n` (1..24) bits; throws BZ2_TRUNCATED as soon as a read goes past the input. */
  bits(n: number): number {
    if (this.bitCount < n) this.fill();
    const v = this.bitBuf >>> (32 - n);
    this.bitBuf <<= n;
    this.bitCount -= n;
    if (this.overBytes !== 0) this.checkEnd();
    return v;
  }

  bit(): number {
    return this.bits(1);
  }

  /** 32 bits, unsigned. */
  bits32(): number {
    const hi = this.bits(16);
    return ((hi << 16) | this.bits(16)) >>> 0;
  }

  /** Throws BZ2_TRUNCATED if a consumed bit lies past the input. */
  checkEnd(): void {
    if (this.pastEnd) throw new DecodeFailure('BZ2_TRUNCATED', 'unexpected end of input', this.endByte * 8);
  }

  /**
   * A structural error found after consuming the bits up to here: reported as BZ2_TRUNCATED instead
   * when those bits ran past the end (bzip2 would have stopped at the end first).
   */
  fail(reason: string, expected?: string | number, actual?: string | number): DecodeFailure {
    if (this.pastEnd) return new DecodeFailure('BZ2_TRUNCATED', 'unexpected end of input', this.endByte * 8);
    return new DecodeFailure('BZ2_DATA', reason, this.bitOffset, expected, actual);
  }
}
