// RLE1, the block CRC and block splitting exactly as libbzip2 does them (bzlib.c ADD_CHAR_TO_BLOCK,
// add_pair_to_block, flush_RL, copy_input_until_stop). Spec: ../shared/spec/bzip2.md §1.2.
//
// Runs of 4..255 equal bytes become the 4 bytes and a count byte (run − 4); longer runs are cut
// into pieces of at most 255. A run is written ("flushed") when a different byte arrives or when it
// reaches 255. libbzip2 checks `nblock >= 100000·level − 19` before taking each input byte, so a
// block closes right after the flush that fills it, and the byte that caused the flush (a pending
// run of length 1) opens the next block together with its CRC contribution. Blocks therefore end
// at the same input bytes as bzip2's, and never inside a run's 4 bytes + count.

import { BZ_CRC_INIT, bzCrcFinal, bzCrcUpdate } from './crc.js';

/** Bytes past the end of a block that mainSort uses for its wrap-around copy (libbzip2 BZ_N_OVERSHOOT). */
export const BZ_N_OVERSHOOT = 34;

/** libbzip2's nblockMAX for `level` (1..9). */
export function blockLimit(level: number): number {
  return 100000 * level - 19;
}

/** Size of a block buffer for `level`: the largest block libbzip2's rule can produce plus the overshoot. */
export function blockBufferBytes(level: number): number {
  return 100000 * level + BZ_N_OVERSHOOT;
}

export interface Rle1Block {
  /** Post-RLE1 bytes in data[0, nblock); `data` is blockBufferBytes(level) long. */
  data: Uint8Array;
  nblock: number;
  /** CRC-32/BZIP2 of the block's original (pre-RLE1) bytes, finalised. */
  blockCrc: number;
  /** How many input bytes the block stands for. */
  rawBytes: number;
}

export type BlockSink = (block: Rle1Block) => void;

/**
 * Streaming RLE1 splitter: push() input in chunks of any size, finish() at the end; `onBlock` is
 * called with each complete block in order. Output does not depend on the chunking. Block buffers
 * come from `allocate` so callers can recycle them.
 */
export class Rle1Splitter {
  private readonly limit: number;
  private readonly bufferBytes: number;
  private buf: Uint8Array;
  private nblock = 0;
  /** Pending run: byte (-1 when none, libbzip2's state_in_ch = 256) and length 1..255. */
  private runByte = -1;
  private runLength = 0;
  /** CRC register over the raw bytes given to the current block so far. */
  private crc = BZ_CRC_INIT;
  private rawBytes = 0;
  private finished = false;

  constructor(
    level: number,
    private readonly onBlock: BlockSink,
    private readonly allocate: (bytes: number) => Uint8Array = (bytes) => new Uint8Array(bytes),
  ) {
    this.limit = blockLimit(level);
    this.bufferBytes = blockBufferBytes(level);
    this.buf = allocate(this.bufferBytes);
  }

  /** Post-RLE1 bytes in the block being filled. */
  get pendingBytes(): number {
    return this.nblock;
  }

  push(chunk: Uint8Array): void {
    if (this.finished) throw new Error('Rle1Splitter.push after finish');
    const end = chunk.length;
    const limit = this.limit;
    let buf = this.buf;
    let nb = this.nblock;
    let ch = this.runByte;
    let len = this.runLength;
    // Start of the raw span of this chunk that belongs to the current block (for the CRC).
    let spanStart = 0;
    let i = 0;
    while (i < end) {
      if (len === 1) {
        // Fast path: while each byte differs from the one before, every byte flushes the previous
        // one as a run of 1, in a tight loop. At most limit − nb flushes may happen before the
        // block can close (nb < limit here: a full block closes at once).
        let j = i;
        let prev = ch;
        const stop = end - i < limit - nb ? end : i + (limit - nb);
        while (j < stop) {
          const c = chunk[j]!;
          if (c === prev) break;
          buf[nb++] = prev;
          prev = c;
          j++;
        }
        if (j > i) {
          ch = prev;
          i = j;
          if (nb >= limit) {
            // Block full: the last byte of the stretch stays pending and starts the next block.
            this.crc = bzCrcUpdate(this.crc, chunk, spanStart, i - 1);
            this.rawBytes += i - 1 - spanStart;
            this.emit(buf, nb);
            buf = this.buf;
            nb = 0;
            spanStart = i - 1;
          }
          if (i >= end) break;
        }
      }
      const c = chunk[i]!;
      if (c !== ch) {
        if (len === 1) {
          buf[nb++] = ch;
        } else if (len > 0) {
          nb = writeRun(buf, nb, ch, len);
        }
        ch = c;
        len = 1;
        if (nb >= limit) {
          // Block full: c stays pending and starts the next block.
          this.crc = bzCrcUpdate(this.crc, chunk, spanStart, i);
          this.rawBytes += i - spanStart;
          this.emit(buf, nb);
          buf = this.buf;
          nb = 0;
          spanStart = i;
        }
      } else if (len === 255) {
        nb = writeRun(buf, nb, ch, 255);
        len = 1;
        if (nb >= limit) {
          this.crc = bzCrcUpdate(this.crc, chunk, spanStart, i);
          this.rawBytes += i - spanStart;
          this.emit(buf, nb);
          buf = this.buf;
          nb = 0;
          spanStart = i;
        }
      } else {
        len++;
      }
      i++;
    }
    this.crc = bzCrcUpdate(this.crc, chunk, spanStart, end);
    this.rawBytes += end - spanStart;
    this.nblock = nb;
    this.runByte = ch;
    this.runLength = len;
  }

  /** Flushes the pending run and emits the last block (none for empty input). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    let nb = this.nblock;
    if (this.runLength > 0) nb = writeRun(this.buf, nb, this.runByte, this.runLength);
    this.runLength = 0;
    this.runByte = -1;
    if (nb > 0) {
      this.onBlock({ data: this.buf, nblock: nb, blockCrc: bzCrcFinal(this.crc), rawBytes: this.rawBytes });
    }
  }

  private emit(buf: Uint8Array, nb: number): void {
    const block: Rle1Block = { data: buf, nblock: nb, blockCrc: bzCrcFinal(this.crc), rawBytes: this.rawBytes };
    this.buf = this.allocate(this.bufferBytes);
    this.crc = BZ_CRC_INIT;
    this.rawBytes = 0;
    this.onBlock(block);
  }
}

/** add_pair_to_block: a run of 1..3 is copied, 4..255 becomes 4 bytes and a count. */
function writeRun(buf: Uint8Array, nb: number, ch: number, len: number): number {
  if (len < 4) {
    buf[nb++] = ch;
    if (len > 1) buf[nb++] = ch;
    if (len > 2) buf[nb++] = ch;
    return nb;
  }
  buf[nb] = ch;
  buf[nb + 1] = ch;
  buf[nb + 2] = ch;
  buf[nb + 3] = ch;
  buf[nb + 4] = len - 4;
  return nb + 5;
}
