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
let spare: Uint8Array | undefined;

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  port!.postMessage(msg, transfer);
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
    const piece = spare ?? new Uint8Array(PIECE_BYTES);
    spare = undefined;
    let n: number;
    try {
      n = output.fill(piece, 0, piece.length);
    } catch (e) {
      currentId = -1;
      spare = piece;
      postFailure(id, e);
      return;
    }
    credits--;
    if (n < PIECE_BYTES / 4) {
      // A short piece (end of block): send a copy and keep the big buffer.
      post({ type: 'piece', id, bytes: piece.slice(0, n) });
      spare = piece;
    } else {
      post({ type: 'piece', id, bytes: piece.subarray(0, n) }, [piece.buffer as ArrayBuffer]);
    }
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
