// Messages between the compress pool and its workers (compress-pool.ts, compress-worker.ts).
// Spec ../shared/spec/bzip2.md §3.3: ArrayBuffers are transferred both ways, never copied.

export interface WorkerSetup {
  level: number;
  budgetPerByte?: number;
}

/** One post-RLE1 block: buffer (transferred) holds nblock bytes plus the sort's overshoot room. */
export interface WorkerRequest {
  seq: number;
  buffer: ArrayBuffer;
  nblock: number;
  blockCrc: number;
}

/** The block's byte-aligned bits, and the block buffer handed back for reuse. */
export interface WorkerReply {
  seq: number;
  buffer: ArrayBuffer;
  compressed?: ArrayBuffer;
  error?: string;
}
