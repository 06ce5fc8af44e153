// RLE1, the block CRC and block splitting exactly as libbzip2 does them (bzlib.c ADD_CHAR_TO_BLOCK,
// add_pair_to_block, flush_RL, copy_input_until_stop). Spec: docs/spec/bzip2.md §1.2.
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
  /** rle1Fill's state: nblock, pending run byte and length. */
  private readonly state = new Int32Array(3);

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
    const st = this.state;
    st[NB] = this.nblock;
    st[CH] = this.runByte;
    st[LEN] = this.runLength;
    // Start of the raw span of this chunk that belongs to the current block (for the CRC).
    let spanStart = 0;
    let i = 0;
    for (;;) {
      const stop = rle1Fill(chunk, i, end, this.buf, this.limit, st);
      if (st[NB]! < this.limit) break;
      // Block full: chunk[stop] is pending and opens the next block, with its CRC contribution.
      this.crc = bzCrcUpdate(this.crc, chunk, spanStart, stop);
      this.rawBytes += stop - spanStart;
      this.emit(this.buf, st[NB]!);
      st[NB] = 0;
      spanStart = stop;
      i = stop + 1;
    }
    this.crc = bzCrcUpdate(this.crc, chunk, spanStart, end);
    this.rawBytes += end - spanStart;
    this.nblock = st[NB]!;
    this.runByte = st[CH]!;
    this.runLength = st[LEN]!;
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

const NB = 0;
const CH = 1;
const LEN = 2;

/**
 * The RLE1 loop: takes chunk[i, end) into buf until the block is full (st[NB] >= limit) or the
 * chunk ends, and returns where it stopped: end, or when the block filled, the index of the byte
 * that stays pending and opens the next block. A plain function apart from push(), which handles
 * full blocks: V8 then never meets the rare block-full path inside optimised loop code (meeting
 * it there deoptimised the loop at every block: the splitter ran 2-3 times slower).
 */
function rle1Fill(chunk: Uint8Array, i: number, end: number, buf: Uint8Array, limit: number, st: Int32Array): number {
  let nb = st[NB]!;
  let ch = st[CH]!;
  let len = st[LEN]!;
  let stop = end;
  while (i < end) {
    if (len === 1) {
      // Fast path: while each byte differs from the one before, every byte flushes the previous
      // one as a run of 1, in a tight loop. At most limit − nb flushes may happen before the
      // block can close (nb < limit here: a full block closes at once).
      let j = i;
      let prev = ch;
      const last = end - i < limit - nb ? end : i + (limit - nb);
      while (j < last) {
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
          stop = i - 1;
          break;
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
        stop = i;
        break;
      }
    } else if (len === 255) {
      nb = writeRun(buf, nb, ch, 255);
      len = 1;
      if (nb >= limit) {
        stop = i;
        break;
      }
    } else {
      // c extends the run: so do the equal bytes after it, up to a run of 255, in a tight loop
      // (disk images are mostly long runs of zeros).
      const last = end - i < 255 - len ? end : i + (255 - len);
      let j = i + 1;
      while (j < last && chunk[j] === c) j++;
      len += j - i;
      i = j;
      continue;
    }
    i++;
  }
  st[NB] = nb;
  st[CH] = ch;
  st[LEN] = len;
  return stop;
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
