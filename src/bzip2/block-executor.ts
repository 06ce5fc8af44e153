// How the streaming decoder gets a block decoded: the interface shared by the worker pool
// (parallel/decompress-pool.ts) and the inline executor here, which decodes on the calling thread
// with the same code as decompressBuffer(). Spec docs/spec/bzip2.md §3.3 (decompression).

import { BlockOutput, PIECE_BYTES } from './block-output.js';
import type { ByteWindow } from './byte-window.js';
import { BlockDecoder, maxCompressedBlockBytes } from './decode-block.js';
import { decodeBlockAt, fillOrThrow } from './decompress-buffer.js';
import type { BlockRequest } from './stream-parser.js';

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

/** Hands out output pieces from 1 MiB slabs, so that short pieces do not each hold a whole MiB. */
export class PieceSlab {
  private slab = new Uint8Array(0);
  private pos = 0;

  /** Fills the next piece from `output` and returns it (empty once the block is done). */
  fill(output: BlockOutput, req: BlockRequest): Uint8Array {
    const from = this.startPiece();
    this.pos = fillOrThrow(output, this.slab, from, this.slab.length, req);
    return this.slab.subarray(from, this.pos);
  }

  /** A piece of at most `maxBytes`; throws DecodeFailure as BlockOutput.fill() does. */
  fillUpTo(output: BlockOutput, maxBytes: number): Uint8Array {
    const from = this.startPiece();
    this.pos = output.fill(this.slab, from, Math.min(this.slab.length, from + maxBytes));
    return this.slab.subarray(from, this.pos);
  }

  /** Where the next piece starts, in a fresh slab if little is left of this one. */
  private startPiece(): number {
    if (this.slab.length - this.pos < MIN_PIECE_BYTES) {
      this.slab = new Uint8Array(PIECE_BYTES);
      this.pos = 0;
    }
    return this.pos;
  }
}

/**
 * Runs the inverse BWT and RLE1 stages of a block decoded on this thread (`decoder.endBit`
 * absolute) and writes its output in pieces, waiting for the reader.
 */
export async function emitDecodedBlock(decoder: BlockDecoder, output: BlockOutput, slab: PieceSlab, req: BlockRequest, ctx: EngineContext): Promise<BlockResult> {
  output.start(decoder);
  return emitRestOfBlock(decoder, output, slab, req, ctx);
}

/** emitDecodedBlock() for an output already started, and perhaps partly written. */
export async function emitRestOfBlock(decoder: BlockDecoder, output: BlockOutput, slab: PieceSlab, req: BlockRequest, ctx: EngineContext): Promise<BlockResult> {
  while (!output.done) {
    const piece = slab.fill(output, req);
    if (piece.length > 0) await ctx.writeOutput(piece);
  }
  return { storedCrc: decoder.storedBlockCrc, computedCrc: output.blockCrc, endBit: decoder.endBit };
}

/** Decodes each block on the calling thread once its whole compressed extent can be in the window. */
export class InlineExecutor implements BlockExecutor {
  readonly lookaheadBytes = maxCompressedBlockBytes(9) + (256 << 10);
  private readonly decoder = new BlockDecoder();
  private readonly output = new BlockOutput();
  private readonly slab = new PieceSlab();

  onInput(): void {}

  async runBlock(req: BlockRequest, ctx: EngineContext): Promise<BlockResult> {
    const window = ctx.window;
    // Waiting for the block's largest possible extent makes the result independent of chunking.
    const needByte = Math.floor(req.magicBit / 8) + maxCompressedBlockBytes(req.level);
    while (!window.final && window.endByte < needByte) await ctx.waitForChange();
    decodeBlockAt(this.decoder, window.view(), req);
    return emitDecodedBlock(this.decoder, this.output, this.slab, req, ctx);
  }

  async close(): Promise<void> {}
}
