// The body of a decompression worker thread: decodes the candidate blocks the pool sends (up to
// JOBS_PER_WORKER queued, so it never waits for the main thread between blocks) with the pure block
// code, and posts each one's output in pieces, in order, waiting for credit (bounded memory).
// Started by decompress-pool.ts. Spec docs/spec/bzip2.md §3.3 (decompression on workers).

import { parentPort, workerData } from 'node:worker_threads';
import { BlockOutput, PIECE_BYTES } from '../block-output.js';
import { BlockDecoder } from '../decode-block.js';
import { DecodeFailure } from '../decode-failure.js';
import { warmUpDecoder } from '../warm-up.js';
import { JobClaims, JOBS_PER_WORKER, type FromWorker, type JobMessage, type ToWorker } from './decompress-protocol.js';

const port = parentPort;
if (!port) throw new Error('decompress-worker.js must run in a worker thread');
const claims = new JobClaims((workerData as { claims: Int32Array }).claims);
warmUpDecoder();

interface Task {
  id: number;
  credits: number;
  job: JobMessage | undefined;
  decoder: BlockDecoder;
  output: BlockOutput;
}

/** Decoder state for each job a worker may hold (a 900k block needs ~8 MB of it). */
const idle: { decoder: BlockDecoder; output: BlockOutput }[] = [];
for (let i = 0; i < JOBS_PER_WORKER; i++) idle.push({ decoder: new BlockDecoder(), output: new BlockOutput() });
/** The jobs held, oldest first: the pool consumes them in that order. */
const tasks: Task[] = [];
/**
 * The output piece buffer, reused: pieces are posted as copies, never transferred. Transferring
 * detaches an ArrayBuffer, and the first detach in a thread makes V8 throw away all optimised code
 * that works on typed arrays; copying 1 MiB costs far less than that recompilation.
 */
const piece = new Uint8Array(PIECE_BYTES);

function post(msg: FromWorker): void {
  port!.postMessage(msg);
}

function finish(task: Task): void {
  tasks.splice(tasks.indexOf(task), 1);
  idle.push({ decoder: task.decoder, output: task.output });
}

function fail(task: Task, e: unknown): void {
  if (!(e instanceof DecodeFailure)) throw e;
  finish(task);
  post({ type: 'failure', id: task.id, code: e.code, reason: e.reason, bitOffset: e.bitOffset, expected: e.expected, actual: e.actual });
}

/** Decodes a task's block (Huffman, MTF, links); false if it failed or the pool took it back. */
function decode(task: Task): boolean {
  const job = task.job!;
  task.job = undefined; // its input is no longer needed
  if (!claims.claimForWorker(task.id)) {
    finish(task); // the main thread decodes it
    return false;
  }
  try {
    task.decoder.decode(job.bytes, job.bytes.length, job.startBit, job.maxBlockBytes);
  } catch (e) {
    fail(task, e);
    return false;
  }
  const d = task.decoder;
  post({ type: 'header', id: task.id, storedCrc: d.storedBlockCrc, nblock: d.nblock, origPtr: d.origPtr, endBit: d.endBit });
  task.output.start(d);
  return true;
}

/** Writes a task's pieces while its credit lasts; false if it failed. */
function pump(task: Task): boolean {
  const output = task.output;
  while (task.credits > 0 && !output.done) {
    let n: number;
    try {
      n = output.fill(piece, 0, piece.length);
    } catch (e) {
      fail(task, e);
      return false;
    }
    task.credits--;
    // Structured cloning copies a view's whole buffer: slice a short piece first.
    post({ type: 'piece', id: task.id, bytes: n === piece.length ? piece : piece.slice(0, n) });
  }
  if (output.done) {
    finish(task);
    post({ type: 'done', id: task.id, crc: output.blockCrc });
  }
  return true;
}

let workScheduled = false;

/**
 * Works through the held tasks in order: output flows as credit allows, and the next block is
 * decoded in a later turn of the event loop, so that a cancel (the main thread taking the job back)
 * is seen first.
 */
function work(): void {
  workScheduled = false;
  let decoded = false;
  for (let i = 0; i < tasks.length; ) {
    const task = tasks[i]!;
    const before = tasks.length;
    if (task.job) {
      if (decoded) {
        scheduleWork(); // one block per turn
        return;
      }
      decoded = true;
      if (!decode(task)) continue; // failed: removed
    }
    if (!pump(task)) continue; // failed: removed
    if (tasks.length === before) i++; // waiting for credit
  }
}

function scheduleWork(): void {
  if (workScheduled) return;
  workScheduled = true;
  setImmediate(work);
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'job': {
      const state = idle.pop();
      if (!state) throw new Error(`a worker holds at most ${JOBS_PER_WORKER} jobs`);
      tasks.push({ id: msg.id, credits: msg.credits, job: msg, ...state });
      break;
    }
    case 'credit': {
      const task = tasks.find((t) => t.id === msg.id);
      if (task) task.credits += msg.n;
      break;
    }
    case 'cancel': {
      const task = tasks.find((t) => t.id === msg.id);
      if (task) finish(task);
      break;
    }
  }
  work();
});

claims.markReady();
