// Messages between the decompression pool (main thread) and its workers. A job is one candidate
// block: the worker decodes it speculatively and streams its output back in pieces, never more than
// its credits ahead of what the main thread has consumed. Spec docs/spec/bzip2.md §3.3.

import type { Bz2ErrorCode } from '../decode-failure.js';

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

/** The worker begins decoding a job (until then the main thread may take the job back). */
export interface StartedMessage {
  type: 'started';
  id: number;
}

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

export type FromWorker = StartedMessage | HeaderMessage | FailureMessage | PieceMessage | DoneMessage;
