// Whole-buffer bzip2 compression on the calling thread (pure: no I/O, no workers). The output is
// the same bytes createCompressStream writes for the same input and level, whatever its threads.
// Spec: docs/spec/bzip2.md §1 (format), §1.9 (aligned blocks).

import { SnapcloneError } from '../core/errors.js';
import { BitWriter } from './bit-writer.js';
import { BlockCompressor, streamHeader, writeStreamTrailer, type BlockCompressorOptions } from './compress-block.js';
import { bzCombineCrc } from './crc.js';
import { Rle1Splitter } from './rle1.js';

export interface CompressBufferOptions extends BlockCompressorOptions {
  /** 1..9: block size in units of 100 000 bytes, as bzip2 -1..-9. Default 9. */
  level?: number;
}

/** Checks a level option; throws BZ2_BAD_LEVEL (a usage error) unless it is an integer 1..9. */
export function checkLevel(level: number | undefined): number {
  const l = level ?? 9;
  if (!Number.isInteger(l) || l < 1 || l > 9) {
    throw new SnapcloneError('BZ2_BAD_LEVEL', 'bzip2 level must be an integer from 1 to 9', {
      kind: 'usage',
      expected: '1..9',
      actual: String(level),
    });
  }
  return l;
}

/**
 * Compresses `bytes` into one bzip2 stream. By default blocks are byte-aligned (as the parallel
 * stream writes them); `alignBlocks: false` gives exactly what `bzip2 -<level>` writes.
 */
export function compressBuffer(bytes: Uint8Array, options: CompressBufferOptions = {}): Uint8Array {
  const level = checkLevel(options.level);
  const compressor = new BlockCompressor(level, options);
  const w = new BitWriter(Math.min(bytes.length, 1 << 24) + 64);
  const header = streamHeader(level);
  for (const b of header) w.bits(8, b);
  let combinedCrc = 0;
  // One block buffer is enough: each block is compressed before the splitter fills the next.
  let spare: Uint8Array | undefined;
  const splitter = new Rle1Splitter(
    level,
    (block) => {
      compressor.compressBlock(block.data, block.nblock, block.blockCrc, w);
      combinedCrc = bzCombineCrc(combinedCrc, block.blockCrc);
      spare = block.data;
    },
    (size) => {
      const b = spare ?? new Uint8Array(size);
      spare = undefined;
      return b;
    },
  );
  splitter.push(bytes);
  splitter.finish();
  writeStreamTrailer(w, combinedCrc);
  w.flushToByte();
  return w.bytes().slice();
}
