// Parallel decompression: the main thread scans the compressed input for block magics at any bit
// offset and hands each candidate to a worker thread that decodes it speculatively; the main thread
// decodes too, taking the next candidate whenever it would otherwise wait. The parser keeps only
// the blocks that chain (false positives are dropped). Worker output comes back in pieces with
// credit-based flow control, and in order. Spec docs/spec/bzip2.md §3.2-3.3.

import { Worker } from 'node:worker_threads';
import { SnapcloneError } from '../../core/errors.js';
import { emitRestOfBlock, InlineExecutor, PieceSlab, type BlockExecutor, type BlockResult, type EngineContext } from '../block-executor.js';
import { BlockOutput } from '../block-output.js';
import { BlockMagicScanner } from '../block-scanner.js';
import type { ByteWindow } from '../byte-window.js';
import { BlockDecoder, maxCompressedBlockBytes } from '../decode-block.js';
import { DecodeFailure, failureToError } from '../decode-failure.js';
import type { BlockRequest } from '../stream-parser.js';
import { JobClaims, JOBS_PER_WORKER, type FailureMessage, type FromWorker, type HeaderMessage, type ToWorker } from './decompress-protocol.js';

/** Output pieces a job may hold before its worker waits for the main thread. */
const INITIAL_CREDITS = 8;
/**
 * By default workers start once this much compressed input has arrived (a few blocks); an input
 * that ends before is decoded on the calling thread alone: starting a thread costs about what it saves.
 */
export const DEFAULT_WORKERS_AFTER_BYTES = 1 << 20;
/** Every candidate is decoded as if its stream were level 9; the parser re-checks the real level. */
const SPECULATIVE_MAX_BLOCK_BYTES = 900000;
const MAX_BLOCK_EXTENT = maxCompressedBlockBytes(9);

interface Slot {
  worker: Worker;
  /** Jobs the worker holds, oldest first (at most JOBS_PER_WORKER). */
  jobs: Job[];
  claims: JobClaims;
}

interface Job {
  id: number;
  /** Absolute bit offset of the candidate magic. */
  magicBit: number;
  /** Absolute byte offset of the job's first byte. */
  startByte: number;
  /** Absolute end of the input the job got. */
  endByte: number;
  /** The job got all the input the block could possibly need: running out is a real error. */
  complete: boolean;
  slot: Slot | undefined;
  header: HeaderMessage | undefined;
  failure: FailureMessage | undefined;
  pieces: Uint8Array[];
  done: boolean;
  crc: number;
}

let liveWorkers = 0;
/** How blocks were decoded, over all pools (for tests: the parallel path must really be taken). */
export const poolStats = { blocksFromWorkers: 0, blocksFromMainThread: 0, blocksTakenBack: 0, blocksRedoneInline: 0, blocksInline: 0 };

/** A candidate the main thread decoded speculatively while waiting; emitted when the parser gets there. */
interface LocalJob {
  magicBit: number;
  /** False when the speculative decode failed: the parser redoes it with the exact level. */
  ok: boolean;
  decoder: BlockDecoder;
  /** Started as soon as the block decoded: it may be walked ahead into `ahead`. */
  output: BlockOutput;
  /** Output walked while this thread would otherwise have waited for a worker, not written yet. */
  ahead: Uint8Array[];
  aheadBytes: number;
}

/** Candidates the main thread may hold decoded ahead of the parser. */
const LOCAL_JOBS = 2;
/**
 * Output of each such block the main thread may walk ahead (in pieces of WALK_AHEAD_PIECE_BYTES,
 * short enough that a worker's message is not kept waiting). Without it, the main thread, holding
 * LOCAL_JOBS decoded blocks, would sit idle while a worker walks the block before them.
 */
const WALK_AHEAD_BYTES = 4 << 20;
const WALK_AHEAD_PIECE_BYTES = 256 << 10;

/** Worker threads started by any pool and not exited yet (for tests: pools must not leak them). */
export function liveDecompressWorkers(): number {
  return liveWorkers;
}

/** The compiled worker: beside this file in dist/, or dist/ seen from src/ when run by vitest. */
function workerUrl(): URL {
  return import.meta.url.endsWith('.ts')
    ? new URL('../../../dist/src/bzip2/parallel/decompress-worker.js', import.meta.url)
    : new URL('./decompress-worker.js', import.meta.url);
}

export class DecompressPool implements BlockExecutor {
  readonly lookaheadBytes: number;
  private readonly slots: Slot[] = [];
  private readonly scanner = new BlockMagicScanner();
  /** Candidate magic positions (absolute bits), ascending; those before candIdx are dispatched or dropped. */
  private candidates: number[] = [];
  private candIdx = 0;
  private readonly jobsByBit = new Map<number, Job>();
  private readonly jobsById = new Map<number, Job>();
  private nextId = 1;
  private inlineOnly = false;
  private readonly inline = new InlineExecutor();
  /** The main thread's speculative blocks, in candidate order. */
  private readonly locals: LocalJob[] = [];
  /** Decoder state for them, reused. */
  private readonly localStates: { decoder: BlockDecoder; output: BlockOutput }[] = [];
  private readonly localSlab = new PieceSlab();
  private readonly workerCount: number;
  private window: ByteWindow | undefined;
  private parserBit = 0;
  private fatal: Error | undefined;
  private closed = false;

  /**
   * `threads` decoding threads: the calling thread and threads-1 workers. `wake` is called whenever
   * a worker reports, so a waiting runBlock() looks again.
   */
  constructor(
    threads: number,
    private readonly wake: () => void,
    readonly workersAfterBytes = DEFAULT_WORKERS_AFTER_BYTES,
  ) {
    this.workerCount = Math.max(1, threads - 1);
    this.lookaheadBytes = MAX_BLOCK_EXTENT + (threads + 1) * (1 << 20);
  }

  onInput(window: ByteWindow, parserBit: number): void {
    this.window = window;
    if (this.scanner.scannedByte < window.endByte) {
      const v = window.view();
      this.scanner.scan(v.bytes, this.scanner.scannedByte - v.baseByte, v.endByte - v.baseByte, this.candidates);
    }
    this.advanceTo(parserBit);
    this.dispatch();
  }

  /** The parser reached `bit`: speculative work on candidates before it was for false positives. */
  private advanceTo(bit: number): void {
    this.parserBit = bit;
    for (const job of this.jobsByBit.values()) if (job.magicBit < bit) this.drop(job);
    while (this.locals.length > 0 && this.locals[0]!.magicBit < bit) this.releaseLocal(this.locals[0]!);
  }

  private releaseLocal(job: LocalJob): void {
    this.locals.splice(this.locals.indexOf(job), 1);
    job.ahead = [];
    this.localStates.push({ decoder: job.decoder, output: job.output });
  }

  async runBlock(req: BlockRequest, ctx: EngineContext): Promise<BlockResult> {
    this.advanceTo(req.magicBit);
    for (;;) {
      this.throwIfFatal();
      const local = this.locals[0];
      if (local?.magicBit === req.magicBit) {
        try {
          if (local.ok && this.fitsLevel(req, local.decoder.nblock, local.decoder.origPtr)) {
            poolStats.blocksFromMainThread++;
            const ahead = local.ahead;
            local.ahead = [];
            for (const piece of ahead) await ctx.writeOutput(piece);
            return await emitRestOfBlock(local.decoder, local.output, this.localSlab, req, ctx);
          }
        } finally {
          this.releaseLocal(local);
        }
        poolStats.blocksRedoneInline++;
        return this.inline.runBlock(req, ctx);
      }
      const job = this.jobsByBit.get(req.magicBit);
      if (job && this.takeBack(job)) continue;
      if (job) return this.consume(job, req, ctx);
      if (this.inlineOnly || !this.isPending(req.magicBit)) {
        poolStats.blocksInline++;
        return this.inline.runBlock(req, ctx);
      }
      // No worker has it yet: decode it here as soon as its input is in.
      if (!this.workAhead()) await ctx.waitForChange();
    }
  }

  /** A block decoded speculatively as level 9 is valid for a stream of level req.level if it fits. */
  private fitsLevel(req: BlockRequest, nblock: number, origPtr: number): boolean {
    const limit = req.level * 100000;
    return nblock <= limit && origPtr <= 10 + limit;
  }

  /** Streams a worker's job in order; meanwhile this thread decodes or walks later candidates. */
  private async consume(job: Job, req: BlockRequest, ctx: EngineContext): Promise<BlockResult> {
    while (!job.header && !job.failure) {
      this.throwIfFatal();
      if (this.takeBack(job)) return this.runBlock(req, ctx);
      if (this.workAhead()) continue;
      await ctx.waitForChange();
    }
    const h = job.header;
    if (!h || !this.fitsLevel(req, h.nblock, h.origPtr)) {
      // Failed, ran out of input at a false positive, or breaks the stream's level: decode it again
      // here with the exact level and all the input it may need, for bzip2's exact verdict.
      this.drop(job);
      this.dispatch();
      poolStats.blocksRedoneInline++;
      return this.inline.runBlock(req, ctx);
    }
    for (;;) {
      const piece = job.pieces.shift();
      if (piece) {
        await ctx.writeOutput(piece);
        if (job.slot) this.post(job.slot, { type: 'credit', id: job.id, n: 1 });
        continue;
      }
      if (job.done) break;
      if (job.failure) {
        this.drop(job);
        const f = job.failure;
        throw failureToError(new DecodeFailure(f.code, f.reason, f.bitOffset, f.expected, f.actual), {
          baseBitOffset: job.startByte * 8,
          blockNo: req.blockNo,
          streamNo: req.streamNo,
        });
      }
      this.throwIfFatal();
      if (!this.workAhead()) await ctx.waitForChange();
    }
    this.drop(job);
    this.dispatch();
    poolStats.blocksFromWorkers++;
    return { storedCrc: h.storedCrc, computedCrc: job.crc, endBit: job.startByte * 8 + h.endBit };
  }

  /** True if the job's worker is, as far as its messages tell, still decoding an earlier one. */
  private waitsBehindAnother(job: Job): boolean {
    const first = job.slot?.jobs[0];
    return first !== undefined && first !== job && !first.header && !first.failure;
  }

  /**
   * Decodes the next undispatched candidate on this thread (Huffman and MTF stages; the rest when
   * the parser gets there), if there is one whose input is in. Returns whether it did.
   */
  private takeLocal(): boolean {
    const w = this.window;
    if (this.locals.length >= LOCAL_JOBS || !w || this.closed) return false;
    const magicBit = this.nextCandidate();
    if (magicBit === undefined) return false;
    const range = this.rangeOf(this.candIdx, w);
    if (!range) return false;
    this.candIdx++;
    this.decodeLocal(w, magicBit, range.endByte);
    return true;
  }

  /**
   * Takes back a job its worker has not begun, if the worker will not begin it soon (it is still
   * booting, or decoding an earlier block): this thread needs the block now. Returns whether it did.
   */
  private takeBack(job: Job): boolean {
    const slot = job.slot;
    const w = this.window;
    if (!slot || !w || (slot.claims.ready && !this.waitsBehindAnother(job)) || !slot.claims.claimForPool(job.id)) return false;
    this.drop(job); // cancelled; a worker that gets to it first cannot claim it either
    this.decodeLocal(w, job.magicBit, job.endByte);
    this.dispatch();
    poolStats.blocksTakenBack++;
    return true;
  }

  /** Decodes candidate `magicBit` with the input up to `endByte` on this thread, into `locals`. */
  private decodeLocal(w: ByteWindow, magicBit: number, endByte: number): void {
    const v = w.view();
    const baseBit = v.baseByte * 8;
    const state = this.localStates.pop() ?? { decoder: new BlockDecoder(), output: new BlockOutput() };
    let ok = true;
    try {
      state.decoder.decode(v.bytes, endByte - v.baseByte, magicBit + 48 - baseBit, SPECULATIVE_MAX_BLOCK_BYTES);
      state.decoder.endBit += baseBit;
      state.output.start(state.decoder);
    } catch (e) {
      if (!(e instanceof DecodeFailure)) throw e;
      ok = false;
    }
    const at = this.locals.findIndex((l) => l.magicBit > magicBit);
    this.locals.splice(at < 0 ? this.locals.length : at, 0, { magicBit, ok, ...state, ahead: [], aheadBytes: 0 });
  }

  /** Something useful to do instead of waiting: decode the next candidate, or walk one ahead. */
  private workAhead(): boolean {
    return this.takeLocal() || this.walkAhead();
  }

  /**
   * Walks a piece of the first local block that is not walked to its end or its budget; returns
   * whether there was one. A walk that fails marks the block for an exact redo when its turn comes.
   */
  private walkAhead(): boolean {
    for (const local of this.locals) {
      if (!local.ok || local.output.done || local.aheadBytes >= WALK_AHEAD_BYTES) continue;
      try {
        const piece = this.localSlab.fillUpTo(local.output, WALK_AHEAD_PIECE_BYTES);
        local.ahead.push(piece);
        local.aheadBytes += piece.length;
      } catch (e) {
        if (!(e instanceof DecodeFailure)) throw e;
        local.ok = false;
        local.ahead = [];
      }
      return true;
    }
    return false;
  }

  /** The first candidate not dispatched yet and not behind the parser (candIdx points at it). */
  private nextCandidate(): number | undefined {
    while (this.candIdx < this.candidates.length) {
      const bit = this.candidates[this.candIdx]!;
      if (bit >= this.parserBit) return bit;
      this.candIdx++;
    }
    return undefined;
  }

  /**
   * The input a speculative decode of candidate i gets: up to the next candidate (where the block
   * ends unless that one is a false positive), the end of input, or the longest a block can be.
   * Undefined while that is not known yet. `complete`: running out of it is a real error.
   */
  private rangeOf(i: number, w: ByteWindow): { endByte: number; complete: boolean } | undefined {
    const startByte = Math.floor(this.candidates[i]! / 8);
    const maxEnd = startByte + MAX_BLOCK_EXTENT;
    const next = this.candidates[i + 1];
    let endByte: number;
    if (next !== undefined) endByte = Math.min(Math.ceil(next / 8), maxEnd);
    else if (w.final) endByte = Math.min(w.endByte, maxEnd);
    else if (w.endByte >= maxEnd) endByte = maxEnd;
    else return undefined; // the block may extend past what has arrived
    return { endByte, complete: endByte === maxEnd || (w.final && endByte === w.endByte) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.jobsByBit.clear();
    this.jobsById.clear();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** True when `bit` is a candidate not dispatched yet (it will be, once there is input and a worker). */
  private isPending(bit: number): boolean {
    for (let i = this.candIdx; i < this.candidates.length; i++) {
      const c = this.candidates[i]!;
      if (c === bit) return true;
      if (c > bit) return false;
    }
    return false;
  }

  /** Starts jobs for the next candidates while workers are free and their input is available. */
  private dispatch(): void {
    const w = this.window;
    if (!w || this.closed || this.inlineOnly) return;
    for (;;) {
      const magicBit = this.nextCandidate();
      if (magicBit === undefined) break;
      if (this.jobsByBit.size >= JOBS_PER_WORKER * this.workerCount) break;
      const range = this.rangeOf(this.candIdx, w);
      if (!range) break;
      if (this.slots.length === 0 && w.endByte < this.workersAfterBytes) {
        if (w.final) this.inlineOnly = true;
        return;
      }
      const slot = this.idleSlot();
      if (!slot) break;
      const startByte = Math.floor(magicBit / 8);
      const job: Job = {
        id: this.nextId++,
        magicBit,
        startByte,
        endByte: range.endByte,
        complete: range.complete,
        slot,
        header: undefined,
        failure: undefined,
        pieces: [],
        done: false,
        crc: 0,
      };
      slot.jobs.push(job);
      this.jobsByBit.set(magicBit, job);
      this.jobsById.set(job.id, job);
      slot.claims.open(job.id);
      // Copied, not transferred: see decompress-worker.ts on detached buffers.
      const bytes = w.copy(startByte, range.endByte);
      this.post(slot, { type: 'job', id: job.id, bytes, startBit: magicBit - startByte * 8 + 48, maxBlockBytes: SPECULATIVE_MAX_BLOCK_BYTES, credits: INITIAL_CREDITS });
      this.candIdx++;
    }
    if (this.candIdx > 4096) {
      this.candidates = this.candidates.slice(this.candIdx);
      this.candIdx = 0;
    }
  }

  /** The worker holding the fewest jobs, if one can take another. */
  private idleSlot(): Slot | undefined {
    this.start();
    let best: Slot | undefined;
    for (const s of this.slots) if (s.jobs.length < JOBS_PER_WORKER && (!best || s.jobs.length < best.jobs.length)) best = s;
    return best;
  }

  /** Starts the workers now rather than once workersAfterBytes of input arrived (idempotent). */
  startWorkers(): void {
    this.start();
  }

  /** Starts the workers (idempotent). */
  private start(): void {
    if (this.slots.length === 0 && !this.closed) for (let i = 0; i < this.workerCount; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const claims = JobClaims.create();
    const worker = new Worker(workerUrl(), { workerData: { claims: claims.cells } });
    liveWorkers++;
    const slot: Slot = { worker, jobs: [], claims };
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (e) => this.setFatal(e));
    worker.on('exit', (code) => {
      liveWorkers--;
      if (!this.closed) this.setFatal(new Error(`worker exited with code ${code}`));
    });
    return slot;
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    const job = this.jobsById.get(msg.id);
    if (!job) return; // dropped: a late message from a cancelled job
    switch (msg.type) {
      case 'header':
        job.header = msg;
        break;
      case 'failure':
        // A run-out on an incomplete range is not a verdict; runBlock() redoes such blocks inline.
        job.failure = msg;
        this.release(slot, job);
        break;
      case 'piece':
        job.pieces.push(msg.bytes);
        break;
      case 'done':
        job.done = true;
        job.crc = msg.crc;
        this.release(slot, job);
        break;
    }
    this.wake();
    if (!job.slot) this.dispatch();
  }

  private release(slot: Slot, job: Job): void {
    const i = slot.jobs.indexOf(job);
    if (i >= 0) slot.jobs.splice(i, 1);
    job.slot = undefined;
  }

  /** Forgets a job; if its worker is still on it, tells the worker to stop. */
  private drop(job: Job): void {
    this.jobsByBit.delete(job.magicBit);
    this.jobsById.delete(job.id);
    const slot = job.slot;
    if (slot) {
      this.post(slot, { type: 'cancel', id: job.id });
      this.release(slot, job);
    }
  }

  private post(slot: Slot, msg: ToWorker): void {
    slot.worker.postMessage(msg);
  }

  private setFatal(e: Error): void {
    if (this.closed || this.fatal) return;
    this.fatal = new SnapcloneError('BZ2_WORKER_FAILED', `a decompression worker failed: ${e.message}`, { kind: 'internal', cause: e });
    this.wake();
  }

  private throwIfFatal(): void {
    if (this.fatal) throw this.fatal;
  }
}
