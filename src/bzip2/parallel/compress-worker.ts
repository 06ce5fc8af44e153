// Worker thread of the parallel bzip2 compressor: BWT, MTF and Huffman coding of one post-RLE1
// block at a time, returned byte-aligned. Spec ../shared/spec/bzip2.md §3.3.
// The block buffer comes in transferred and goes back transferred, so the main thread can reuse it.

import { parentPort, workerData } from 'node:worker_threads';
import { BlockCompressor } from '../compress-block.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './compress-protocol.js';

const setup = workerData as WorkerSetup;
const compressor = new BlockCompressor(setup.level, { alignBlocks: true, budgetPerByte: setup.budgetPerByte });
const port = parentPort;
if (!port) throw new Error('compress-worker.js must run in a worker thread');

port.on('message', (req: WorkerRequest) => {
  const block = new Uint8Array(req.buffer);
  let reply: WorkerReply;
  try {
    const compressed = compressor.compressAlignedBlock(block, req.nblock, req.blockCrc);
    const out = compressed.buffer as ArrayBuffer;
    reply = { seq: req.seq, compressed: out, buffer: req.buffer };
    port.postMessage(reply, [out, req.buffer]);
  } catch (e) {
    reply = { seq: req.seq, buffer: req.buffer, error: String((e as Error)?.stack ?? e) };
    port.postMessage(reply, [req.buffer]);
  }
});
