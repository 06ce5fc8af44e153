// The sequential part of decompression: stream headers, the chain of blocks, end-of-stream markers
// with their combined CRCs, multi-stream files and trailing garbage, as bzip2 1.0.8 (bzip2.c
// uncompressStream, decompress.c BZ_X_MAGIC_1..4, BZ_X_BLKHDR_1..6, BZ_X_ENDHDR_2..6, BZ_X_CCRC_1..4)
// handles them. Blocks themselves are decoded by the caller (inline or in workers), which reports
// back with endBlock(). Spec docs/spec/bzip2.md §1.1, §1.10, §3.2 ("parser").

import { SnapcloneError, type Warning } from '../core/errors.js';
import { BitReader, WIDE_NUMBER_FIELD } from './bit-reader.js';
import { BLOCK_MAGIC_HI, BLOCK_MAGIC_LO, BZ_HDR_0, BZ_HDR_B, BZ_HDR_h, BZ_HDR_Z, EOS_MAGIC_HI, EOS_MAGIC_LO } from './constants.js';
import { bzCombineCrc } from './crc.js';
import { DecodeFailure, failureToError, hex32 } from './decode-failure.js';

/** The compressed input the parser may look at: absolute offsets, bytes[0] is at byte baseByte. */
export interface InputView {
  bytes: Uint8Array;
  baseByte: number;
  /** Absolute offset just past the last byte received so far. */
  endByte: number;
  /** True when no more input will come. */
  final: boolean;
}

export type ParserStep =
  /** More input (or the end of input) is needed to go on. */
  | { kind: 'needInput' }
  /** A block starts here: decode it, write its output, then call endBlock(). */
  | { kind: 'block'; block: BlockRequest }
  | { kind: 'warning'; warning: Warning }
  /** Every stream has been read; any further input is to be ignored. */
  | { kind: 'done' };

export interface BlockRequest {
  /** Absolute bit offset of the block's 48-bit magic. */
  magicBit: number;
  /** Stream level 1..9; the block may hold up to 100000 x level bytes before RLE1 is undone. */
  level: number;
  /** 1-based, counted over all streams. */
  blockNo: number;
  /** 1-based. */
  streamNo: number;
}

const BLOCK_MAGIC = [BLOCK_MAGIC_HI >>> 16, (BLOCK_MAGIC_HI >>> 8) & 255, BLOCK_MAGIC_HI & 255, BLOCK_MAGIC_LO >>> 16, (BLOCK_MAGIC_LO >>> 8) & 255, BLOCK_MAGIC_LO & 255];
const EOS_MAGIC = [EOS_MAGIC_HI >>> 16, (EOS_MAGIC_HI >>> 8) & 255, EOS_MAGIC_HI & 255, EOS_MAGIC_LO >>> 16, (EOS_MAGIC_LO >>> 8) & 255, EOS_MAGIC_LO & 255];
/** Bits needed to tell a block from an end-of-stream marker and read the latter whole. */
const EOS_BITS = 48 + 32;

type State = 'header' | 'blockOrEos' | 'inBlock' | 'done';

export class StreamParser {
  private state: State = 'header';
  /** Absolute bit offset of the next thing to read. */
  private bitPos = WIDE_NUMBER_FIELD;
  private level = 0;
  private streamNo = 0;
  private blockNo = 0;
  private combinedCrc = WIDE_NUMBER_FIELD;
  private currentBlock: BlockRequest | undefined;
  private readonly reader = new BitReader();

  constructor() {
    this.bitPos = 0;
    this.combinedCrc = 0;
  }

  /** Absolute byte offset before which the input is no longer needed. */
  get keepFromByte(): number {
    return Math.floor((this.currentBlock?.magicBit ?? this.bitPos) / 8);
  }

  /** Absolute bit offset of the next thing to read (the current block's magic while in a block). */
  get position(): number {
    return this.currentBlock?.magicBit ?? this.bitPos;
  }

  get finished(): boolean {
    return this.state === 'done';
  }

  /** Advances as far as `view` allows. Throws SnapcloneError for malformed input. */
  step(view: InputView): ParserStep {
    for (;;) {
      switch (this.state) {
        case 'done':
          return { kind: 'done' };
        case 'inBlock':
          return { kind: 'block', block: this.currentBlock! };
        case 'header': {
          const r = this.readStreamHeader(view);
          if (r) return r;
          break;
        }
        case 'blockOrEos': {
          const r = this.readBlockOrEos(view);
          if (r) return r;
          break;
        }
      }
    }
  }

  /**
   * The caller decoded and wrote the current block. Checks its CRC (BZ2_BLOCK_CRC) and moves to the
   * bit after it.
   */
  endBlock(storedCrc: number, computedCrc: number, endBit: number): void {
    const block = this.currentBlock;
    if (this.state !== 'inBlock' || !block) throw new SnapcloneError('BZ2_INTERNAL', 'endBlock() outside a block', { kind: 'internal' });
    if (storedCrc !== computedCrc) {
      throw failureToError(new DecodeFailure('BZ2_BLOCK_CRC', 'stored and computed CRCs differ', block.magicBit, hex32(storedCrc), hex32(computedCrc)), {
        baseBitOffset: 0,
        blockNo: block.blockNo,
        streamNo: block.streamNo,
      });
    }
    this.combinedCrc = bzCombineCrc(this.combinedCrc, computedCrc);
    this.bitPos = endBit;
    this.currentBlock = undefined;
    this.state = 'blockOrEos';
  }

  /** BZ_X_MAGIC_1..4 at a byte boundary. Returns a step to report, or undefined to go on. */
  private readStreamHeader(view: InputView): ParserStep | undefined {
    const bytePos = this.bitPos / 8; // always a byte boundary here
    const available = view.endByte - bytePos;
    if (available < 4 && !view.final) return { kind: 'needInput' };
    const first = this.streamNo === 0;
    if (available === 0 && !first) {
      this.state = 'done';
      return { kind: 'done' };
    }
    const expected = [BZ_HDR_B, BZ_HDR_Z, BZ_HDR_h];
    for (let k = 0; k < 4; k++) {
      if (k >= available) {
        // bzip2 reads the magic a byte at a time: running out before a mismatch is a truncation.
        throw failureToError(new DecodeFailure('BZ2_TRUNCATED', first && available === 0 ? 'empty input' : 'unexpected end of input in a stream header', view.endByte * 8), {
          baseBitOffset: 0,
          streamNo: this.streamNo + 1,
        });
      }
      const b = view.bytes[bytePos + k - view.baseByte]!;
      const ok = k < 3 ? b === expected[k] : b >= BZ_HDR_0 + 1 && b <= BZ_HDR_0 + 9;
      if (ok) continue;
      if (first) {
        throw failureToError(
          new DecodeFailure('BZ2_BAD_MAGIC', 'no "BZh1".."BZh9" signature at the start', (bytePos + k) * 8, k < 3 ? `0x${expected[k]!.toString(16)}` : "'1'..'9'", `0x${b.toString(16)}`),
          { baseBitOffset: 0 },
        );
      }
      this.state = 'done';
      return {
        kind: 'warning',
        warning: {
          code: 'BZ2_TRAILING_GARBAGE',
          message: `trailing garbage after the end of the last stream ignored (${view.final ? available : 'at least ' + available} bytes at offset ${bytePos})`,
          byteOffset: bytePos,
        },
      };
    }
    this.level = view.bytes[bytePos + 3 - view.baseByte]! - BZ_HDR_0;
    this.streamNo++;
    this.combinedCrc = 0;
    this.bitPos = (bytePos + 4) * 8;
    this.state = 'blockOrEos';
    return undefined;
  }

  /** BZ_X_BLKHDR_1..6 or BZ_X_ENDHDR_2..6 + BZ_X_CCRC_1..4, at any bit offset. */
  private readBlockOrEos(view: InputView): ParserStep | undefined {
    const haveBits = view.endByte * 8 - this.bitPos;
    if (haveBits < EOS_BITS && !view.final) return { kind: 'needInput' };
    const br = this.reader;
    br.reset(view.bytes, view.endByte - view.baseByte, this.bitPos - view.baseByte * 8);
    const ctx = { baseBitOffset: view.baseByte * 8, blockNo: this.blockNo + 1, streamNo: this.streamNo };
    try {
      const first = br.bits(8);
      const magic = first === EOS_MAGIC[0] ? EOS_MAGIC : BLOCK_MAGIC;
      for (let k = 0; k < 6; k++) {
        const b = k === 0 ? first : br.bits(8);
        if (b !== magic[k]) {
          throw br.fail('bad block header magic', '0x314159265359 (block) or 0x177245385090 (end of stream)', `byte ${k} = 0x${b.toString(16)}`);
        }
      }
      if (magic === BLOCK_MAGIC) {
        this.blockNo++;
        this.currentBlock = { magicBit: this.bitPos, level: this.level, blockNo: this.blockNo, streamNo: this.streamNo };
        this.state = 'inBlock';
        return { kind: 'block', block: this.currentBlock };
      }
      const crcBit = br.bitOffset;
      const stored = br.bits32();
      if (stored !== this.combinedCrc) {
        throw new DecodeFailure('BZ2_STREAM_CRC', 'stored and computed stream CRCs differ', crcBit, hex32(stored), hex32(this.combinedCrc));
      }
      // The next stream starts at the next byte boundary; the padding bits are ignored.
      this.bitPos = Math.ceil((view.baseByte * 8 + br.bitOffset) / 8) * 8;
      this.state = 'header';
      return undefined;
    } catch (e) {
      if (e instanceof DecodeFailure) throw failureToError(e, { ...ctx, blockNo: e.code === 'BZ2_STREAM_CRC' ? undefined : ctx.blockNo });
      throw e;
    }
  }
}
