// Streaming bzip2 decompression as a node:stream Transform: multi-stream input, trailing garbage as
// bzip2 handles it, bounded memory whatever the expansion, blocks decoded by the calling thread and
// a worker_threads pool (parallel/decompress-pool.ts), or by the calling thread alone (threads: 1).
// Spec
// docs/spec/bzip2.md §1.1 (streams, garbage), §1.10 (errors), §3.2-3.3 (parallel decoding).

import { availableParallelism } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { SnapcloneError, type WarnFn } from '../core/errors.js';
import { InlineExecutor, type BlockExecutor, type EngineContext } from './block-executor.js';
import { ByteWindow } from './byte-window.js';
import { DecompressPool } from './parallel/decompress-pool.js';
import { Signal } from './signal.js';
import { StreamParser } from './stream-parser.js';
import { warmUpDecoder } from './warm-up.js';

export interface DecompressOptions {
  /**
   * Decoding threads, default one per core: the calling thread and threads-1 worker threads.
   * 1 decodes on the calling thread only.
   */
  threads?: number;
  /** Called for recoverable anomalies, such as trailing garbage after the last stream. */
  onWarning?: WarnFn;
  /**
   * Compressed bytes to receive before starting worker threads (default 1 MiB): a smaller input is
   * decoded on the calling thread alone.
   */
  workersAfterBytes?: number;
  /**
   * The input's size when known (a file). If it reaches workersAfterBytes, the workers start at
   * once, so they boot while the first block is read instead of after.
   */
  inputBytes?: number;
}

/**
 * A Transform from .bz2 bytes to the original bytes. Malformed input destroys the stream with a
 * SnapcloneError (BZ2_BAD_MAGIC, BZ2_TRUNCATED, BZ2_DATA, BZ2_BLOCK_CRC, BZ2_STREAM_CRC); output of
 * the blocks before the bad one has been written by then and is valid.
 */
export function createDecompressStream(options: DecompressOptions = {}): Transform {
  return new DecompressStream(options);
}

/** Thrown inside the run loop when the stream was destroyed under it; never surfaces. */
class Aborted extends Error {}

class DecompressStream extends Transform implements EngineContext {
  readonly window = new ByteWindow();
  private readonly parser = new StreamParser();
  private readonly executor: BlockExecutor;
  private readonly onWarning: WarnFn | undefined;
  private readonly changed = new Signal();
  private readonly readSignal = new Signal();
  private wantRead = true;
  /** The _transform callback held back while the window is full. */
  private heldCallback: TransformCallback | undefined;
  private runLoop: Promise<void> | undefined;
  private parsingDone = false;

  constructor(options: DecompressOptions) {
    super({ readableHighWaterMark: 4 << 20, writableHighWaterMark: 1 << 20 });
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new SnapcloneError('USAGE_BAD_THREADS', 'threads must be a positive integer', { kind: 'usage', actual: threads });
    }
    if (threads === 1) {
      this.executor = new InlineExecutor();
    } else {
      const pool = new DecompressPool(threads, () => this.changed.notify(), options.workersAfterBytes);
      if (options.inputBytes !== undefined && options.inputBytes >= pool.workersAfterBytes) pool.startWorkers();
      this.executor = pool;
    }
    // After the workers were started: they boot while this thread warms up.
    warmUpDecoder();
    this.onWarning = options.onWarning;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.parsingDone) {
      callback(); // after the last stream (trailing garbage): read and drop
      return;
    }
    this.window.append(chunk);
    if (!this.tellExecutor()) return;
    this.runLoop ??= this.run();
    this.changed.notify();
    if (this.window.liveBytes < this.executor.lookaheadBytes) callback();
    else this.heldCallback = callback;
  }

  /** New input for the executor (scanning, dispatching); false if that failed and destroyed us. */
  private tellExecutor(): boolean {
    try {
      this.executor.onInput(this.window, this.parser.position);
      return true;
    } catch (e) {
      this.destroy(e as Error);
      return false;
    }
  }

  override _flush(callback: TransformCallback): void {
    this.window.final = true;
    if (!this.tellExecutor()) return;
    this.runLoop ??= this.run();
    this.changed.notify();
    void this.runLoop.then(() => {
      if (!this.destroyed) callback();
    });
  }

  override _read(size: number): void {
    this.wantRead = true;
    this.readSignal.notify();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.changed.notify();
    this.readSignal.notify();
    this.executor.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  waitForChange(): Promise<void> {
    if (this.destroyed) return Promise.reject(new Aborted());
    return this.changed.wait().then(() => {
      if (this.destroyed) throw new Aborted();
    });
  }

  async writeOutput(piece: Uint8Array): Promise<void> {
    if (this.destroyed) throw new Aborted();
    this.wantRead = false;
    if (this.push(piece)) return;
    while (!this.wantRead) {
      await this.readSignal.wait();
      if (this.destroyed) throw new Aborted();
    }
  }

  /** The sequential loop: parser steps, blocks through the executor, output in order. */
  private async run(): Promise<void> {
    try {
      for (;;) {
        const step = this.parser.step(this.window.view());
        if (step.kind === 'done') break;
        if (step.kind === 'warning') {
          this.onWarning?.(step.warning);
        } else if (step.kind === 'needInput') {
          await this.waitForChange();
        } else {
          const r = await this.executor.runBlock(step.block, this);
          this.parser.endBlock(r.storedCrc, r.computedCrc, r.endBit);
          // While the reader keeps up, writeOutput() resolves at once and this loop would run on
          // microtasks alone: let input, and the workers' messages, in between blocks.
          await yieldToEventLoop();
        }
        this.advanced();
      }
      this.parsingDone = true;
      this.window.release(this.window.endByte);
      this.releaseWriter();
      await this.executor.close();
    } catch (e) {
      await this.executor.close();
      if (!(e instanceof Aborted)) this.destroy(e as Error);
    }
  }

  private advanced(): void {
    this.window.release(this.parser.keepFromByte);
    this.executor.onInput(this.window, this.parser.position);
    if (this.window.liveBytes < this.executor.lookaheadBytes) this.releaseWriter();
  }

  private releaseWriter(): void {
    const cb = this.heldCallback;
    if (cb) {
      this.heldCallback = undefined;
      cb();
    }
  }
}
