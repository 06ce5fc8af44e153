// The bzip2 codec's public surface: streaming Transforms on every core and single-thread buffer
// helpers. Everything else in src/bzip2 is the libbzip2-shaped core behind these.

export { createCompressStream, type CompressOptions } from './compress-stream.js';
export { createDecompressStream, type DecompressOptions } from './decompress-stream.js';
export { compressBuffer } from './compress-buffer.js';
export { decompressBuffer } from './decompress-buffer.js';
export { bzCrc } from './crc.js';

/** True when `head` starts like a bzip2 stream: "BZh" and a level digit 1-9. */
export function looksLikeBzip2(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39;
}
