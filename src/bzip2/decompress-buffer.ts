// Whole-buffer bzip2 decompression on the calling thread: the pure entry point (no streams, no
// workers), for small inputs and tests. Same parser and block code as the streaming decoder.
// Spec docs/spec/bzip2.md §1 (format) and §1.10 (errors).

import type { WarnFn } from '../core/errors.js';
import { BlockOutput } from './block-output.js';
import { BlockDecoder } from './decode-block.js';
import { DecodeFailure, failureToError } from './decode-failure.js';
import { StreamParser, type BlockRequest, type InputView } from './stream-parser.js';

export interface DecompressBufferOptions {
  /** Recoverable anomalies (trailing garbage). */
  onWarning?: WarnFn;
}

/**
 * Decompresses a whole .bz2 (one or more streams). Throws SnapcloneError with a BZ2_* code on
 * malformed input (BZ2_BAD_MAGIC, BZ2_TRUNCATED, BZ2_DATA, BZ2_BLOCK_CRC, BZ2_STREAM_CRC).
 */
export function decompressBuffer(input: Uint8Array, options: DecompressBufferOptions = {}): Uint8Array {
  const parser = new StreamParser();
  const view: InputView = { bytes: input, baseByte: 0, endByte: input.length, final: true };
  const decoder = new BlockDecoder();
  const output = new BlockOutput();
  let out = new Uint8Array(Math.max(1 << 16, Math.min(input.length * 4, 1 << 28)));
  let outLength = 0;
  for (;;) {
    const step = parser.step(view);
    if (step.kind === 'done') break;
    if (step.kind === 'warning') {
      options.onWarning?.(step.warning);
      continue;
    }
    if (step.kind === 'needInput') throw new Error('unreachable: the whole input is final');
    const req = step.block;
    decodeBlockAt(decoder, view, req);
    output.start(decoder);
    while (!output.done) {
      if (outLength === out.length) {
        const bigger = new Uint8Array(out.length * 2);
        bigger.set(out);
        out = bigger;
      }
      outLength = fillOrThrow(output, out, outLength, out.length, req);
    }
    parser.endBlock(decoder.storedBlockCrc, output.blockCrc, decoder.endBit);
  }
  return out.subarray(0, outLength);
}

/** Decodes the block of `req` from `view` into the decoder; failures become SnapcloneErrors. */
export function decodeBlockAt(decoder: BlockDecoder, view: InputView, req: BlockRequest): void {
  const baseBit = view.baseByte * 8;
  try {
    decoder.decode(view.bytes, view.endByte - view.baseByte, req.magicBit + 48 - baseBit, req.level * 100000);
  } catch (e) {
    if (e instanceof DecodeFailure) throw failureToError(e, { baseBitOffset: baseBit, blockNo: req.blockNo, streamNo: req.streamNo });
    throw e;
  }
  // Positions from here on are absolute.
  decoder.endBit += baseBit;
}

/** BlockOutput.fill() with its failure (a dangling 4-byte run) converted. */
export function fillOrThrow(output: BlockOutput, out: Uint8Array, pos: number, end: number, req: BlockRequest): number {
  try {
    return output.fill(out, pos, end);
  } catch (e) {
    if (e instanceof DecodeFailure) throw failureToError(e, { baseBitOffset: 0, blockNo: req.blockNo, streamNo: req.streamNo });
    throw e;
  }
}
