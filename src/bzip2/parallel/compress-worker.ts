// Worker thread of the parallel bzip2 compressor: BWT, MTF and Huffman coding of one post-RLE1
// block at a time, returned byte-aligned. Spec docs/spec/bzip2.md §3.3.
// The block buffer is shared (nothing is transferred: see compress-protocol.ts); the reply says the
// main thread may reuse it.

import { parentPort, workerData } from 'node:worker_threads';
import { BlockCompressor } from '../compress-block.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './compress-protocol.js';

const setup = workerData as WorkerSetup;
const compressor = new BlockCompressor(setup.level, { alignBlocks: true, budgetPerByte: setup.budgetPerByte });
const port = parentPort;
if (!port) throw new Error('compress-worker.js must run in a worker thread');

port.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { seq: req.seq, compressed: compressor.compressAlignedBlock(req.block, req.nblock, req.blockCrc) };
  } catch (e) {
    reply = { seq: req.seq, error: String((e as Error)?.stack ?? e) };
  }
  port.postMessage(reply);
});
