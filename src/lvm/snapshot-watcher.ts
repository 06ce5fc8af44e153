// Watches a snapshot's copy-on-write fill while a job reads from it, and aborts the job (an
// AbortSignal, and a callback) before the snapshot overflows: at a threshold (90% by default), or
// earlier when the fill rate says it will pass 100% before the next poll. An overflowed snapshot is
// invalid and its data lost. Spec: anchors.md §4 item 1; prompts "A snapshot watcher".

import { SnapcloneError } from '../core/errors.js';
import { formatBytes } from '../core/units.js';
import type { SnapshotState } from './snapshot.js';

export const DEFAULT_WATCH_INTERVAL_MS = 5000;
export const DEFAULT_ABORT_AT_PERCENT = 90;
/** Reading the fill may fail now and then (an LVM lock held by another command); give up after this many in a row. */
const MAX_CONSECUTIVE_READ_FAILURES = 3;

export interface FillSample {
  atMs: number;
  fillPercent: number;
}

export interface FillPolicy {
  snapshot: string;
  sizeBytes?: number;
  abortAtPercent: number;
  intervalMs: number;
}

/**
 * The verdict on the latest reading (pure): undefined to go on, or the error to abort with.
 * `previous` is the reading before, for the fill rate.
 */
export function judgeSnapshotFill(state: SnapshotState, atMs: number, previous: FillSample | undefined, policy: FillPolicy): SnapcloneError | undefined {
  const { snapshot } = policy;
  const sizeHint = policy.sizeBytes !== undefined ? ` (it holds ${formatBytes(policy.sizeBytes)} of changes)` : '';
  if (!state.exists) {
    return new SnapcloneError('LVM_SNAPSHOT_MISSING', `snapshot ${snapshot} disappeared while the backup was reading it`, {
      kind: 'external',
      hint: 'another program or administrator removed it; run the backup again',
    });
  }
  if (state.invalid) {
    return new SnapcloneError('LVM_SNAPSHOT_INVALID', `snapshot ${snapshot} overflowed and is invalid${sizeHint}: what was read from it cannot be trusted`, {
      kind: 'external',
      expected: `less than 100% full`,
      actual: `${state.fillPercent ?? 100}% full, invalid`,
      hint: 'run the backup again with a larger --snapshot-size, or when the VM writes less',
    });
  }
  const fill = state.fillPercent;
  if (fill === undefined) return undefined; // not active yet: nothing to judge
  if (fill >= policy.abortAtPercent) {
    return filling(policy, fill, `${fill.toFixed(1)}% full, the limit is ${policy.abortAtPercent}%`);
  }
  if (previous !== undefined && atMs > previous.atMs && fill > previous.fillPercent) {
    const percentPerMs = (fill - previous.fillPercent) / (atMs - previous.atMs);
    // 1.5 intervals: the next reading may come late when LVM is slow to answer.
    const predicted = fill + percentPerMs * policy.intervalMs * 1.5;
    if (predicted >= 100) {
      return filling(
        policy,
        fill,
        `${fill.toFixed(1)}% full and filling at ${(percentPerMs * 1000).toFixed(1)}%/s: it would overflow before the next check`,
      );
    }
  }
  return undefined;
}

function filling(policy: FillPolicy, fill: number, why: string): SnapcloneError {
  const suggestion =
    policy.sizeBytes !== undefined ? `a --snapshot-size larger than ${formatBytes(Math.ceil((policy.sizeBytes * 100) / Math.max(fill, 1)))}` : 'a larger --snapshot-size';
  return new SnapcloneError('LVM_SNAPSHOT_FILLING', `snapshot ${policy.snapshot} is about to overflow (${why}); the job stops before it becomes invalid`, {
    kind: 'refused',
    expected: `below ${policy.abortAtPercent}% full`,
    actual: `${fill.toFixed(2)}% full`,
    hint: `the VM wrote more during the backup than the snapshot can hold: run it again with ${suggestion}, or when the VM is quieter`,
  });
}

export interface SnapshotWatcherOptions {
  /** How to read the snapshot's state (readSnapshotState bound to the snapshot). */
  read: () => Promise<SnapshotState>;
  snapshot: string;
  sizeBytes?: number;
  intervalMs?: number;
  abortAtPercent?: number;
  /** Called once, with the reason, when the watcher aborts. */
  onAbort?: (reason: SnapcloneError) => void;
  /** Every reading, for progress displays and logs. */
  onSample?: (state: SnapshotState) => void;
  /** Transient read failures that did not abort (yet). */
  onReadError?: (error: unknown) => void;
}

export class SnapshotWatcher {
  private readonly controller = new AbortController();
  private readonly policy: FillPolicy;
  private timer: NodeJS.Timeout | undefined;
  private previous: FillSample | undefined;
  private consecutiveFailures = 0;
  private stopped = false;
  private polling: Promise<void> | undefined;
  /** The highest fill seen, for the report. */
  peakPercent = 0;
  /** How many readings were taken. */
  sampleCount = 0;
  /** When the latest reading was started (Date.now()); its result reflects writes before then. */
  lastSampleAtMs = 0;
  lastState: SnapshotState | undefined;

  constructor(private readonly options: SnapshotWatcherOptions) {
    this.policy = {
      snapshot: options.snapshot,
      sizeBytes: options.sizeBytes,
      abortAtPercent: options.abortAtPercent ?? DEFAULT_ABORT_AT_PERCENT,
      intervalMs: options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS,
    };
    if (!(this.policy.abortAtPercent > 0 && this.policy.abortAtPercent < 100) || !(this.policy.intervalMs > 0)) {
      throw new SnapcloneError('USAGE_BAD_NUMBER', 'the snapshot watcher needs a threshold between 0 and 100% and a positive interval', {
        kind: 'usage',
        actual: { abortAtPercent: this.policy.abortAtPercent, intervalMs: this.policy.intervalMs },
      });
    }
  }

  /** Aborted, with a SnapcloneError as `reason`, when the snapshot is about to overflow or broke. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts polling: a first reading now, then one every interval. */
  start(): this {
    this.schedule(0);
    return this;
  }

  /** Stops polling (the job is over); waits for a reading in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /**
   * Reads the state now and throws what the watcher would abort with. Call it after the job read its
   * last byte: a snapshot that overflowed between two polls must not pass for a good one.
   */
  async checkNow(): Promise<void> {
    if (this.signal.aborted) throw this.signal.reason;
    const atMs = Date.now();
    const state = await this.options.read();
    this.record(state, atMs);
    const verdict = judgeSnapshotFill(state, Date.now(), undefined, { ...this.policy, abortAtPercent: Number.POSITIVE_INFINITY });
    if (verdict) {
      this.abort(verdict);
      throw verdict;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll();
    }, delayMs);
    // A watcher must never keep the process alive on its own.
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let state: SnapshotState;
    const atMs = Date.now();
    try {
      state = await this.options.read();
      this.consecutiveFailures = 0;
    } catch (e) {
      this.consecutiveFailures++;
      this.options.onReadError?.(e);
      if (this.consecutiveFailures >= MAX_CONSECUTIVE_READ_FAILURES) {
        this.abort(
          new SnapcloneError('LVM_SNAPSHOT_UNWATCHABLE', `cannot read the fill of snapshot ${this.policy.snapshot} (${this.consecutiveFailures} attempts in a row)`, {
            kind: 'external',
            cause: e,
            hint: 'without the fill, an overflow would go unnoticed; check that LVM answers (`lvs`)',
          }),
        );
        return;
      }
      this.schedule(this.policy.intervalMs);
      return;
    }
    if (this.stopped) return;
    this.record(state, atMs);
    const verdict = judgeSnapshotFill(state, atMs, this.previous, this.policy);
    if (state.fillPercent !== undefined) this.previous = { atMs, fillPercent: state.fillPercent };
    if (verdict) {
      this.abort(verdict);
      return;
    }
    this.schedule(this.policy.intervalMs);
  }

  private record(state: SnapshotState, atMs: number): void {
    this.lastState = state;
    this.lastSampleAtMs = atMs;
    this.sampleCount++;
    if (state.fillPercent !== undefined) this.peakPercent = Math.max(this.peakPercent, state.fillPercent);
    this.options.onSample?.(state);
  }

  private abort(reason: SnapcloneError): void {
    if (this.signal.aborted) return;
    this.controller.abort(reason);
    this.options.onAbort?.(reason);
  }
}

/** Creates and starts a watcher. */
export function watchSnapshot(options: SnapshotWatcherOptions): SnapshotWatcher {
  return new SnapshotWatcher(options).start();
}
