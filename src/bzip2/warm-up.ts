// Decodes a small embedded stream once per thread before real work (warm-up-stream.ts, made by the
// real bzip2 from scripts/generate-bzip2-warm-up.sh). V8 optimises the decoder's hot functions
// after a few hundred calls, on the type feedback seen so far; a path not taken by then (a long
// Huffman code, a long run, the end of the input) later deoptimises them and costs a recompile, in
// every worker thread. Running each path once first avoids that, and checks the decoder too.

import { BlockOutput } from './block-output.js';
import { BlockDecoder } from './decode-block.js';
import { decompressBuffer } from './decompress-buffer.js';
import { WARM_UP_OUTPUT_BYTES, WARM_UP_STREAM_BASE64 } from './warm-up-stream.js';

let warmed = false;

/** Idempotent per thread; a few milliseconds, mostly in the interpreter. */
export function warmUpDecoder(): void {
  if (warmed) return;
  warmed = true;
  const binary = atob(WARM_UP_STREAM_BASE64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const out = decompressBuffer(bytes);
  if (out.length !== WARM_UP_OUTPUT_BYTES) throw new Error(`bzip2 warm-up stream decoded to ${out.length} bytes`);
  // Again as a worker does: input ending right after the block (the decoder's end-of-input path),
  // output in small pieces (runs cross piece boundaries).
  const decoder = new BlockDecoder();
  const output = new BlockOutput();
  decoder.decode(bytes, bytes.length, 32 + 48, 100000);
  decoder.decode(bytes, Math.ceil(decoder.endBit / 8), 32 + 48, 100000);
  output.start(decoder);
  const piece = new Uint8Array(997);
  let total = 0;
  while (!output.done) total += output.fill(piece, 0, piece.length);
  if (total !== WARM_UP_OUTPUT_BYTES) throw new Error(`bzip2 warm-up stream decoded to ${total} bytes in pieces`);
}
