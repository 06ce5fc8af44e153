// Messages between the decompression pool (main thread) and its workers. A job is one candidate
// block: the worker decodes it speculatively and streams its output back in pieces, never more than
// its credits ahead of what the main thread has consumed. Spec docs/spec/bzip2.md §3.3.

import type { Bz2ErrorCode } from '../decode-failure.js';

/** Claim cells per worker: more than the jobs it can hold, so a cell is reused long after its job ended. */
const CLAIM_CELLS = 1024;

/**
 * Who decodes each job, in memory shared by the pool and one worker, plus the worker's "booted"
 * flag. A job is posted to the worker at once, but the worker only decodes it if it claims it
 * first: the main thread may claim it instead when it needs the block and the worker is still
 * booting or busy with an earlier one. One compare-and-swap each way, no message round trip.
 */
export class JobClaims {
  constructor(readonly cells: Int32Array) {}

  static create(): JobClaims {
    return new JobClaims(new Int32Array(new SharedArrayBuffer(4 * (1 + CLAIM_CELLS))));
  }

  /** The worker has booted and warmed up. */
  markReady(): void {
    Atomics.store(this.cells, 0, 1);
  }

  get ready(): boolean {
    return Atomics.load(this.cells, 0) === 1;
  }

  /** Job `id` (positive) is posted and open to both sides. */
  open(id: number): void {
    Atomics.store(this.cells, this.cell(id), id);
  }

  /** The worker takes job `id`, unless the pool took it first. */
  claimForWorker(id: number): boolean {
    return Atomics.compareExchange(this.cells, this.cell(id), id, -id) === id;
  }

  /** The pool takes job `id` back, unless the worker has begun it. */
  claimForPool(id: number): boolean {
    return Atomics.compareExchange(this.cells, this.cell(id), id, 0) === id;
  }

  /** The worker has begun job `id`. */
  workerHas(id: number): boolean {
    return Atomics.load(this.cells, this.cell(id)) === -id;
  }

  private cell(id: number): number {
    return 1 + (id % CLAIM_CELLS);
  }
}

/** Jobs a worker holds at once: while one waits for credit or for the main thread, it decodes the next. */
export const JOBS_PER_WORKER = 2;

export interface JobMessage {
  type: 'job';
  id: number;
  /** Compressed bytes from the byte holding the block magic's first bit. */
  bytes: Uint8Array;
  /** Bit offset in `bytes` just after the 48-bit magic. */
  startBit: number;
  /** 100000 x level: the most bytes the block may hold (speculative jobs use level 9). */
  maxBlockBytes: number;
  /** Output pieces the worker may send before waiting for credit. */
  credits: number;
}

export interface CreditMessage {
  type: 'credit';
  id: number;
  n: number;
}

export interface CancelMessage {
  type: 'cancel';
  id: number;
}

export type ToWorker = JobMessage | CreditMessage | CancelMessage;

export interface HeaderMessage {
  type: 'header';
  id: number;
  storedCrc: number;
  nblock: number;
  origPtr: number;
  /** Bit offset in the job's bytes just past the block. */
  endBit: number;
}

export interface FailureMessage {
  type: 'failure';
  id: number;
  code: Bz2ErrorCode;
  reason: string;
  /** Bit offset in the job's bytes. */
  bitOffset: number;
  expected?: string | number;
  actual?: string | number;
}

export interface PieceMessage {
  type: 'piece';
  id: number;
  bytes: Uint8Array;
}

export interface DoneMessage {
  type: 'done';
  id: number;
  crc: number;
}

export type FromWorker = HeaderMessage | FailureMessage | PieceMessage | DoneMessage;
