// BZ2_compressBlock (libbzip2 compress.c): one post-RLE1 block to its bits — block header, BWT
// (blockSort), generateMTFValues, sendMTFValues — and the stream header and trailer around blocks.
// Spec: docs/spec/bzip2.md §1.1 (stream layout), §1.3 (block header), §1.9 (byte alignment).

import { BitWriter } from './bit-writer.js';
import { blockSort, BlockSortWorkspace, type BlockSortOptions } from './block-sort.js';
import { BLOCK_MAGIC_HI, BLOCK_MAGIC_LO, BZ_HDR_0, BZ_HDR_B, BZ_HDR_h, BZ_HDR_Z, EOS_MAGIC_HI, EOS_MAGIC_LO } from './constants.js';
import { generateMTFValues, MtfWorkspace } from './mtf.js';
import { blockBufferBytes } from './rle1.js';
import { sendMTFValues, SendWorkspace } from './send-mtf-values.js';

export interface BlockCompressorOptions extends BlockSortOptions {
  /**
   * Pad every block to a whole number of bytes (lbzip2's trick, spec §1.9) so blocks compressed
   * separately concatenate as bytes. Default true. Without it the output equals bzip2's bit for bit.
   */
  alignBlocks?: boolean;
}

/** Per-thread encoder state: every array a block needs, allocated once for the level's block size. */
export class BlockCompressor {
  readonly level: number;
  private readonly ptr: Int32Array;
  private readonly mtfv: Uint16Array;
  private readonly mtfFreq = new Int32Array(258);
  private readonly inUse = new Uint8Array(256);
  private readonly sortWs: BlockSortWorkspace;
  private readonly mtfWs = new MtfWorkspace();
  private readonly sendWs = new SendWorkspace();
  private readonly alignBlocks: boolean;
  private readonly sortOptions: BlockSortOptions;
  /** Writer reused by compressAlignedBlock. */
  private readonly writer: BitWriter;
  /** Which sort ran for the last block (for tests and benchmarks). */
  lastUsedFallback = false;

  constructor(level: number, options: BlockCompressorOptions = {}) {
    this.level = level;
    const maxBlock = blockBufferBytes(level);
    this.ptr = new Int32Array(maxBlock);
    this.mtfv = new Uint16Array(maxBlock + 1);
    this.sortWs = new BlockSortWorkspace(maxBlock);
    this.alignBlocks = options.alignBlocks ?? true;
    this.sortOptions = { budgetPerByte: options.budgetPerByte };
    this.writer = new BitWriter(maxBlock >> 1);
  }

  /**
   * Appends one block to `w`. `block` holds nblock post-RLE1 bytes followed by BZ_N_OVERSHOOT
   * spare bytes (the sort writes there); `blockCrc` is the CRC of the block's original bytes.
   */
  compressBlock(block: Uint8Array, nblock: number, blockCrc: number, w: BitWriter): void {
    if (nblock < 1 || nblock > 100000 * this.level || block.length < blockBufferBytes(this.level)) {
      throw new RangeError(`compressBlock: block of ${nblock} bytes in a buffer of ${block.length} at level ${this.level}`);
    }
    const ptr = this.ptr;
    const origPtr = blockSort(block, nblock, ptr, this.sortWs, this.sortOptions);
    this.lastUsedFallback = this.sortWs.lastUsedFallback;

    const inUse = this.inUse;
    const nInUse = markInUse(block, nblock, inUse);

    w.reserve(16);
    w.bits(24, BLOCK_MAGIC_HI);
    w.bits(24, BLOCK_MAGIC_LO);
    w.uint32(blockCrc);
    w.bits(1, 0); // never randomised
    w.bits(24, origPtr);

    const nMTF = generateMTFValues(ptr, block, nblock, inUse, nInUse, this.mtfv, this.mtfFreq, this.mtfWs);
    sendMTFValues(this.mtfv, nMTF, this.mtfFreq, nInUse, inUse, w, this.sendWs, this.alignBlocks);
  }

  /** One block as a fresh, byte-aligned Uint8Array (what a worker sends back). */
  compressAlignedBlock(block: Uint8Array, nblock: number, blockCrc: number): Uint8Array {
    if (!this.alignBlocks) throw new Error('compressAlignedBlock needs alignBlocks');
    const w = this.writer;
    w.reset();
    this.compressBlock(block, nblock, blockCrc, w);
    return w.bytes().slice();
  }
}

/**
 * Marks the byte values present in block[0, n) and returns how many there are. (Its own function,
 * like every long loop here, so V8 compiles it whole instead of on-stack-replacing the caller.)
 */
function markInUse(block: Uint8Array, n: number, inUse: Uint8Array): number {
  inUse.fill(0);
  markBytes(block, n, inUse);
  return countMarked(inUse);
}

function markBytes(block: Uint8Array, n: number, inUse: Uint8Array): void {
  for (let i = 0; i < n; i++) inUse[block[i]!] = 1;
}

function countMarked(inUse: Uint8Array): number {
  let nInUse = 0;
  for (let i = 0; i < 256; i++) nInUse += inUse[i]!;
  return nInUse;
}

/** "BZh" + level, written at the start of every stream. */
export function streamHeader(level: number): Uint8Array {
  return Uint8Array.of(BZ_HDR_B, BZ_HDR_Z, BZ_HDR_h, BZ_HDR_0 + level);
}

/** End-of-stream magic and the combined CRC (10 bytes; the stream was byte-aligned before it). */
export function streamTrailer(combinedCrc: number): Uint8Array {
  return Uint8Array.of(
    EOS_MAGIC_HI >>> 16,
    (EOS_MAGIC_HI >>> 8) & 0xff,
    EOS_MAGIC_HI & 0xff,
    EOS_MAGIC_LO >>> 16,
    (EOS_MAGIC_LO >>> 8) & 0xff,
    EOS_MAGIC_LO & 0xff,
    combinedCrc >>> 24,
    (combinedCrc >>> 16) & 0xff,
    (combinedCrc >>> 8) & 0xff,
    combinedCrc & 0xff,
  );
}

/** Writes the end-of-stream marker at any bit position (the unaligned golden mode). */
export function writeStreamTrailer(w: BitWriter, combinedCrc: number): void {
  w.reserve(16);
  w.bits(24, EOS_MAGIC_HI);
  w.bits(24, EOS_MAGIC_LO);
  w.uint32(combinedCrc);
}
