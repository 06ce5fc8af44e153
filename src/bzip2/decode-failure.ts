// Why a block or stream failed to decode, as plain data (it crosses worker_threads boundaries), and
// its conversion to the engine's SnapcloneError. Codes and checks: spec docs/spec/bzip2.md §1.10.

import { SnapcloneError } from '../core/errors.js';

/**
 * The stable error codes of the bzip2 decoder.
 * - BZ2_BAD_MAGIC: the input does not start with "BZh1".."BZh9" (not a bzip2 file).
 * - BZ2_TRUNCATED: the input ends inside a stream (bzip2: "Compressed file ends unexpectedly").
 * - BZ2_DATA: a structural error inside a stream; the message names the exact reason.
 * - BZ2_BLOCK_CRC / BZ2_STREAM_CRC: the data decoded, but its CRC does not match the stored one.
 */
export type Bz2ErrorCode = 'BZ2_BAD_MAGIC' | 'BZ2_TRUNCATED' | 'BZ2_DATA' | 'BZ2_BLOCK_CRC' | 'BZ2_STREAM_CRC';

/** Thrown by the pure decoding stages; positions are bit offsets in the buffer they were given. */
export class DecodeFailure extends Error {
  constructor(
    readonly code: Bz2ErrorCode,
    readonly reason: string,
    /** Bit offset (in the decoder's input buffer) where the problem was detected. */
    readonly bitOffset: number,
    readonly expected?: string | number,
    readonly actual?: string | number,
  ) {
    super(reason);
    this.name = 'DecodeFailure';
  }
}

/** Where a failure happened, for the message: the block (1-based, counted over all streams) and stream. */
export interface FailureContext {
  /** Absolute bit offset of the decoder's buffer start in the whole compressed input. */
  baseBitOffset: number;
  blockNo?: number;
  streamNo?: number;
}

/** The user-facing error: absolute compressed byte offset, block and stream numbers, expected/found. */
export function failureToError(f: DecodeFailure, ctx: FailureContext): SnapcloneError {
  const absBit = ctx.baseBitOffset + f.bitOffset;
  const where: string[] = [];
  if (ctx.streamNo !== undefined) where.push(`stream ${ctx.streamNo}`);
  if (ctx.blockNo !== undefined) where.push(`block ${ctx.blockNo}`);
  where.push(`compressed bit offset ${absBit}`);
  const summary: Record<Bz2ErrorCode, string> = {
    BZ2_BAD_MAGIC: 'not a bzip2 file',
    BZ2_TRUNCATED: 'compressed data ends unexpectedly',
    BZ2_DATA: 'corrupt bzip2 data',
    BZ2_BLOCK_CRC: 'block CRC mismatch: the decompressed data is damaged',
    BZ2_STREAM_CRC: 'stream CRC mismatch: the decompressed data is damaged',
  };
  const verify = f.code === 'BZ2_BLOCK_CRC' || f.code === 'BZ2_STREAM_CRC';
  return new SnapcloneError(f.code, `${summary[f.code]}: ${f.reason} (${where.join(', ')})`, {
    kind: verify ? 'verify' : 'input',
    byteOffset: Math.floor(absBit / 8),
    expected: f.expected,
    actual: f.actual,
    hint:
      f.code === 'BZ2_BAD_MAGIC'
        ? 'the input is not bzip2-compressed'
        : 'the compressed file is damaged; output written before this block is valid',
  });
}

export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
