// How the streaming decoder gets a block decoded: the interface shared by the worker pool
// (parallel/decompress-pool.ts) and the inline executor here, which decodes on the calling thread
// with the same code as decompressBuffer(). Spec ../shared/spec/bzip2.md §3.3 (decompression).

import { BlockOutput } from './block-output.js';
import type { ByteWindow } from './byte-window.js';
import { BlockDecoder, maxCompressedBlockBytes } from './decode-block.js';
import { decodeBlockAt, fillOrThrow } from './decompress-buffer.js';
import type { BlockRequest } from './stream-parser.js';

/** Output pieces are at most this big: a block can expand to 46 MB, memory must not. */
export const PIECE_BYTES = 1 << 20;
/** A piece slab is replaced once less than this is left in it. */
const MIN_PIECE_BYTES = 64 << 10;

/** What the streaming engine offers an executor. */
export interface EngineContext {
  readonly window: ByteWindow;
  /** Resolves after more input arrived, the input ended, or a worker reported progress. */
  waitForChange(): Promise<void>;
  /** Writes a piece of output downstream, waiting while the reader is full. */
  writeOutput(piece: Uint8Array): Promise<void>;
}

export interface BlockResult {
  storedCrc: number;
  computedCrc: number;
  /** Absolute bit offset just past the block. */
  endBit: number;
}

export interface BlockExecutor {
  /** Compressed bytes to accept beyond the parser's position before holding the writer back. */
  readonly lookaheadBytes: number;
  /** New input is in the window (or it became final). */
  onInput(window: ByteWindow, parserBit: number): void;
  /** Decodes the block and emits its output in order; throws SnapcloneError on malformed data. */
  runBlock(req: BlockRequest, ctx: EngineContext): Promise<BlockResult>;
  /** Releases threads; idempotent. */
  close(): Promise<void>;
}

/** Decodes each block on the calling thread once its whole compressed extent can be in the window. */
export class InlineExecutor implements BlockExecutor {
  readonly lookaheadBytes = maxCompressedBlockBytes(9) + (256 << 10);
  private readonly decoder = new BlockDecoder();
  private readonly output = new BlockOutput();
  private slab = new Uint8Array(0);
  private slabPos = 0;

  onInput(): void {}

  async runBlock(req: BlockRequest, ctx: EngineContext): Promise<BlockResult> {
    const window = ctx.window;
    // Waiting for the block's largest possible extent makes the result independent of chunking.
    const needByte = Math.floor(req.magicBit / 8) + maxCompressedBlockBytes(req.level);
    while (!window.final && window.endByte < needByte) await ctx.waitForChange();
    const decoder = this.decoder;
    const output = this.output;
    decodeBlockAt(decoder, window.view(), req);
    output.start(decoder);
    while (!output.done) {
      if (this.slab.length - this.slabPos < MIN_PIECE_BYTES) {
        this.slab = new Uint8Array(PIECE_BYTES);
        this.slabPos = 0;
      }
      const from = this.slabPos;
      const to = fillOrThrow(output, this.slab, from, this.slab.length, req);
      this.slabPos = to;
      if (to > from) await ctx.writeOutput(this.slab.subarray(from, to));
    }
    return { storedCrc: decoder.storedBlockCrc, computedCrc: output.blockCrc, endBit: decoder.endBit };
  }

  async close(): Promise<void> {}
}
