// Messages between the compress pool and its workers (compress-pool.ts, compress-worker.ts).
// Spec docs/spec/bzip2.md §3.3. Block buffers are SharedArrayBuffers, lent to the worker and
// never transferred: transferring detaches an ArrayBuffer, and the first detach in a thread makes
// V8 drop its optimised typed-array code and compile detach checks into it from then on (measured:
// the block sort 13% slower). Only the compressed bytes (a few hundred kB a block) are copied.

export interface WorkerSetup {
  level: number;
  budgetPerByte?: number;
}

/** One post-RLE1 block: block (shared) holds nblock bytes plus the sort's overshoot room. */
export interface WorkerRequest {
  seq: number;
  block: Uint8Array;
  nblock: number;
  blockCrc: number;
}

/** The block's byte-aligned bits (the block buffer may be reused once this arrives). */
export interface WorkerReply {
  seq: number;
  compressed?: Uint8Array;
  error?: string;
}
