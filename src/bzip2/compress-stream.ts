// Streaming bzip2 compression (node:stream Transform) on every core: RLE1 and block splitting on
// the calling thread, blocks compressed by a worker pool, emitted in order as ONE bzip2 stream.
// Spec docs/spec/bzip2.md §3.3 (design), §1.9 (byte-aligned blocks), §1.8 (combined CRC).
//
// Blocks are byte-aligned wherever they are compressed, so the output is the same bytes for any
// thread count and any chunking of the input (and equals compressBuffer's). Memory stays bounded:
// at most 2 blocks per thread are between the splitter and the output, and the input is not read
// further until one leaves.

import { Transform, type TransformCallback } from 'node:stream';
import { SnapcloneError } from '../core/errors.js';
import { BlockCompressor, streamHeader, streamTrailer } from './compress-block.js';
import { checkLevel } from './compress-buffer.js';
import { bzCombineCrc } from './crc.js';
import { CompressPool, defaultThreadCount, sharedBlockBuffer, type PoolResult } from './parallel/compress-pool.js';
import { Rle1Splitter, type Rle1Block } from './rle1.js';

export interface CompressOptions {
  /** 1..9: block size in units of 100 000 bytes, as bzip2 -1..-9. Default 9. */
  level?: number;
  /**
   * Worker threads; default one per core, at most as many as fit in 250 MB (7 at level 9, about
   * 25 MB each). 1 compresses on the calling thread.
   */
  threads?: number;
  /**
   * The input's size when known (a file). Above one block the worker threads start at once, so
   * they boot while the first block is read and split instead of after.
   */
  inputBytes?: number;
}

/**
 * Input goes to the splitter in slices of 80 000·level bytes: RLE1 expands by at most 5/4, so a
 * slice completes at most two blocks, and back-pressure applies within a large chunk too.
 */
const FEED_SLICE_BYTES_PER_LEVEL = 80000;
const WARM_UP_SLICE_BYTES = 4096;

export function createCompressStream(options: CompressOptions = {}): Transform {
  return new Bzip2CompressStream(options);
}

function checkThreads(threads: number | undefined, level: number): number {
  const t = threads ?? defaultThreadCount(level);
  if (!Number.isInteger(t) || t < 1) {
    throw new SnapcloneError('BZ2_BAD_THREADS', 'the number of threads must be a positive integer', {
      kind: 'usage',
      expected: 'an integer >= 1',
      actual: String(threads),
    });
  }
  return t;
}

class Bzip2CompressStream extends Transform {
  private readonly level: number;
  private readonly threads: number;
  private readonly maxInFlight: number;
  private readonly blockBytes: number;
  private readonly splitter: Rle1Splitter;
  private local: BlockCompressor | undefined;
  private pool: CompressPool | undefined;
  /** Block buffers back from compression, for the splitter to fill again. */
  private readonly freeBuffers: Uint8Array[] = [];
  private readonly blockCrcs = new Map<number, number>();
  private readonly finished = new Map<number, Uint8Array>();
  private nextSeq = 0;
  private nextOut = 0;
  private combinedCrc = 0;
  private headerSent = false;
  private splitterWarm = false;
  private flushing = false;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(options: CompressOptions) {
    super();
    this.level = checkLevel(options.level);
    this.threads = checkThreads(options.threads, this.level);
    this.maxInFlight = 2 * this.threads;
    this.blockBytes = 100000 * this.level;
    this.splitter = new Rle1Splitter(
      this.level,
      (block) => this.onBlock(block),
      (bytes) => this.freeBuffers.pop() ?? (this.threads > 1 ? sharedBlockBuffer(bytes) : new Uint8Array(bytes)),
    );
    if (this.threads > 1 && options.inputBytes !== undefined && options.inputBytes > this.blockBytes) this.startPool();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.feed(chunk).then(
      () => callback(),
      (e: unknown) => callback(asError(e)),
    );
  }

  override _flush(callback: TransformCallback): void {
    this.flushing = true;
    this.finishAll().then(
      () => callback(),
      (e: unknown) => callback(asError(e)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.failure ??= error ?? new SnapcloneError('BZ2_DESTROYED', 'the compress stream was destroyed', { kind: 'internal' });
    this.wake();
    const pool = this.pool;
    this.pool = undefined;
    if (pool) pool.terminate().then(() => callback(error), () => callback(error));
    else callback(error);
  }

  private async feed(chunk: Uint8Array): Promise<void> {
    const slice = FEED_SLICE_BYTES_PER_LEVEL * this.level;
    let off = 0;
    if (!this.splitterWarm && chunk.length > WARM_UP_SLICE_BYTES) {
      // The splitter's first call runs to the end on a small slice, so V8 has type feedback for
      // all of it before it optimises the loop (else the optimised loop deoptimises on each call).
      this.splitter.push(chunk.subarray(0, WARM_UP_SLICE_BYTES));
      off = WARM_UP_SLICE_BYTES;
    }
    this.splitterWarm = true;
    for (; off < chunk.length; off += slice) {
      if (this.failure) throw this.failure;
      this.splitter.push(chunk.subarray(off, Math.min(off + slice, chunk.length)));
      // Start the workers once the input is likely to need more than one block, so they boot
      // while the first block is still being split.
      if (this.pool === undefined && this.threads > 1 && this.splitter.pendingBytes > this.blockBytes >> 1) this.startPool();
      while (this.nextSeq - this.nextOut >= this.maxInFlight && !this.failure) await this.waitForProgress();
    }
    if (this.failure) throw this.failure;
  }

  private async finishAll(): Promise<void> {
    if (this.failure) throw this.failure;
    this.splitter.finish();
    while (this.nextOut < this.nextSeq && !this.failure) await this.waitForProgress();
    if (this.failure) throw this.failure;
    this.sendHeader();
    this.push(streamTrailer(this.combinedCrc));
    const pool = this.pool;
    this.pool = undefined;
    await pool?.terminate();
  }

  private onBlock(block: Rle1Block): void {
    const seq = this.nextSeq++;
    this.blockCrcs.set(seq, block.blockCrc);
    // Small inputs (one block, seen only at the end) and threads: 1 stay on this thread.
    if (this.threads === 1 || (this.pool === undefined && this.flushing)) {
      this.local ??= new BlockCompressor(this.level, { alignBlocks: true });
      const compressed = this.local.compressAlignedBlock(block.data, block.nblock, block.blockCrc);
      this.freeBuffers.push(block.data);
      this.finished.set(seq, compressed);
      this.emitReady();
      return;
    }
    this.startPool().submit(seq, block.data, block.nblock, block.blockCrc);
  }

  private startPool(): CompressPool {
    this.pool ??= new CompressPool(
      { level: this.level },
      this.threads,
      (result) => this.onResult(result),
      (error) => this.onPoolError(error),
    );
    return this.pool;
  }

  private onResult(result: PoolResult): void {
    this.freeBuffers.push(result.buffer);
    this.finished.set(result.seq, result.compressed);
    this.emitReady();
  }

  private onPoolError(error: SnapcloneError): void {
    this.failure ??= error;
    this.wake();
    this.destroy(error);
  }

  /** Pushes every finished block that is next in order. */
  private emitReady(): void {
    let progressed = false;
    for (;;) {
      const bytes = this.finished.get(this.nextOut);
      if (bytes === undefined) break;
      this.finished.delete(this.nextOut);
      const crc = this.blockCrcs.get(this.nextOut)!;
      this.blockCrcs.delete(this.nextOut);
      this.combinedCrc = bzCombineCrc(this.combinedCrc, crc);
      this.sendHeader();
      this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      this.nextOut++;
      progressed = true;
    }
    if (progressed) this.wake();
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(streamHeader(this.level));
  }

  private waitForProgress(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new SnapcloneError('BZ2_INTERNAL', `bzip2 compression failed: ${String(e)}`, { kind: 'internal' });
}
