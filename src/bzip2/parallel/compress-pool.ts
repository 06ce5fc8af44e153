// A pool of worker threads that compress bzip2 blocks (compress-worker.ts). Jobs run in any order
// on any worker; the caller reorders results by sequence number. Spec docs/spec/bzip2.md §3.3.
//
// A worker is ref'd only while it has a job, so an idle pool never keeps the process alive, and a
// pending job always does (an unref'd worker would let Node exit before its result arrives).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SnapcloneError } from '../../core/errors.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './compress-protocol.js';

export interface PoolResult {
  seq: number;
  compressed: Uint8Array;
  /** The block buffer given to submit(), free for reuse. */
  buffer: Uint8Array;
}

/** Resident memory the process needs besides its compression threads (Node, the main thread). */
const BASE_MEMORY_BYTES = 65e6;
/** What one more compression thread costs: its isolate, and about 15 bytes per block byte. */
function threadMemoryBytes(level: number): number {
  return 12e6 + 15 * 100000 * level;
}
/** The default thread count keeps the whole process under this (spec: 250 MB at -9). */
const MEMORY_BUDGET_BYTES = 250e6;

/**
 * Threads to use when the caller does not say: one per core the process may use, but no more than
 * fit in MEMORY_BUDGET_BYTES (7 at -9, measured 25 MB per thread; 13 at -1).
 */
export function defaultThreadCount(level: number): number {
  const byMemory = Math.floor((MEMORY_BUDGET_BYTES - BASE_MEMORY_BYTES) / threadMemoryBytes(level));
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}

/**
 * The worker script. Built code runs dist/src/bzip2/parallel/compress-worker.js beside this file;
 * under vitest this module runs from src/*.ts, and the worker must still be plain JS, so it points
 * at the build output (npm test builds first).
 */
export function compressWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../../../dist/src/bzip2/parallel/compress-worker.js', here);
  return new URL('./compress-worker.js', here);
}

/** A block buffer the workers can read in place (compress-protocol.ts says why not transferred). */
export function sharedBlockBuffer(bytes: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(bytes));
}

let liveWorkers = 0;

/** Workers started by any pool and not yet exited (tests check that streams clean up after themselves). */
export function liveCompressWorkers(): number {
  return liveWorkers;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export class CompressPool {
  private readonly slots: Slot[] = [];
  private readonly queue: WorkerRequest[] = [];
  /** The caller's block buffer of each job submitted and not yet answered. */
  private readonly lent = new Map<number, Uint8Array>();
  private closed = false;

  constructor(
    setup: WorkerSetup,
    threads: number,
    private readonly onResult: (result: PoolResult) => void,
    private readonly onError: (error: SnapcloneError) => void,
  ) {
    const url = compressWorkerUrl();
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(url, { workerData: setup });
      liveWorkers++;
      const slot: Slot = { worker, busy: false };
      worker.unref();
      worker.on('message', (reply: WorkerReply) => this.handleReply(slot, reply));
      worker.on('error', (e: Error) => this.fail(`a compression worker failed: ${e.message}`, e));
      worker.on('exit', (code) => {
        liveWorkers--;
        if (!this.closed) this.fail(`a compression worker exited unexpectedly (code ${code})`);
      });
      this.slots.push(slot);
    }
  }

  /**
   * Queues a block. The caller must not touch `block` until the result hands it back. A block on a
   * SharedArrayBuffer (see sharedBlockBuffer) is lent to the worker as is; any other is copied.
   */
  submit(seq: number, block: Uint8Array, nblock: number, blockCrc: number): void {
    if (this.closed) return;
    let shared = block;
    if (!(block.buffer instanceof SharedArrayBuffer)) {
      shared = sharedBlockBuffer(block.length);
      shared.set(block);
    }
    this.lent.set(seq, block);
    this.queue.push({ seq, block: shared, nblock, blockCrc });
    this.dispatch();
  }

  /** Stops every worker; pending jobs are dropped. */
  async terminate(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.lent.clear();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const req = this.queue.shift()!;
      slot.busy = true;
      slot.worker.ref();
      slot.worker.postMessage(req);
    }
  }

  private handleReply(slot: Slot, reply: WorkerReply): void {
    slot.busy = false;
    slot.worker.unref();
    if (this.closed) return;
    if (reply.error !== undefined || reply.compressed === undefined) {
      this.fail(`compressing block ${reply.seq} failed in a worker: ${reply.error ?? 'no output'}`);
      return;
    }
    const buffer = this.lent.get(reply.seq)!;
    this.lent.delete(reply.seq);
    this.dispatch();
    this.onResult({ seq: reply.seq, compressed: reply.compressed, buffer });
  }

  private fail(message: string, cause?: unknown): void {
    if (this.closed) return;
    const error = new SnapcloneError('BZ2_WORKER_FAILED', message, { kind: 'internal', cause });
    void this.terminate();
    this.onError(error);
  }
}
