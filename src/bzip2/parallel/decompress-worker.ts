// The body of a decompression worker thread: decodes one candidate block at a time with the pure
// block code and posts its output in pieces, waiting for credit (bounded memory). Started by
// decompress-pool.ts. Spec ../shared/spec/bzip2.md §3.3 (decompression on workers).

import { parentPort } from 'node:worker_threads';
import { PIECE_BYTES } from '../block-executor.js';
import { BlockOutput } from '../block-output.js';
import { BlockDecoder } from '../decode-block.js';
import { DecodeFailure } from '../decode-failure.js';
import type { FromWorker, JobMessage, ToWorker } from './decompress-protocol.js';

const port = parentPort;
if (!port) throw new Error('decompress-worker.js must run in a worker thread');

const decoder = new BlockDecoder();
const output = new BlockOutput();
let currentId = -1;
let credits = 0;
/**
 * The output piece buffer, reused: pieces are posted as copies, never transferred. Transferring
 * detaches an ArrayBuffer, and the first detach in a thread makes V8 throw away all optimised code
 * that works on typed arrays; copying 1 MiB costs far less than that recompilation.
 */
const piece = new Uint8Array(PIECE_BYTES);

function post(msg: FromWorker): void {
  port!.postMessage(msg);
}

function postFailure(id: number, e: unknown): void {
  if (!(e instanceof DecodeFailure)) throw e;
  post({ type: 'failure', id, code: e.code, reason: e.reason, bitOffset: e.bitOffset, expected: e.expected, actual: e.actual });
}

function startJob(job: JobMessage): void {
  currentId = job.id;
  credits = job.credits;
  try {
    decoder.decode(job.bytes, job.bytes.length, job.startBit, job.maxBlockBytes);
  } catch (e) {
    currentId = -1;
    postFailure(job.id, e);
    return;
  }
  post({ type: 'header', id: job.id, storedCrc: decoder.storedBlockCrc, nblock: decoder.nblock, origPtr: decoder.origPtr, endBit: decoder.endBit });
  output.start(decoder);
  pump();
}

/** Writes pieces while credit lasts; finishes the job when the block is complete. */
function pump(): void {
  const id = currentId;
  while (credits > 0 && !output.done) {
    let n: number;
    try {
      n = output.fill(piece, 0, piece.length);
    } catch (e) {
      currentId = -1;
      postFailure(id, e);
      return;
    }
    credits--;
    // Structured cloning copies a view's whole buffer: slice a short piece first.
    post({ type: 'piece', id, bytes: n === piece.length ? piece : piece.slice(0, n) });
  }
  if (output.done) {
    currentId = -1;
    post({ type: 'done', id, crc: output.blockCrc });
  }
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'job':
      startJob(msg);
      break;
    case 'credit':
      if (msg.id === currentId) {
        credits += msg.n;
        pump();
      }
      break;
    case 'cancel':
      if (msg.id === currentId) currentId = -1;
      break;
  }
});
