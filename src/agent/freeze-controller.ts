// The agent's freeze state machine: runs the freeze and thaw commands one at a time, arms the watchdog
// that thaws at the deadline whatever happens to the client, and answers "already frozen" / "not
// frozen" without running anything. Spec: docs/agent-protocol.md, "Freeze semantics".

import type { AgentLogger } from './agent-log.js';
import { commandSucceeded, describeCommand, runHookCommand, type CommandReport, type HookCommand } from './hook-command.js';
import type { AgentReply, FreezeState, LastThaw, ThawReason } from './messages.js';

export interface FreezeControllerOptions {
  freezeCommand: HookCommand;
  thawCommand: HookCommand;
  /** No freeze outlives this: the watchdog thaws at freeze start + this. */
  maxFreezeMs: number;
  /** The freeze command is killed after this (and never after maxFreezeMs). */
  freezeTimeoutMs: number;
  thawTimeoutMs: number;
  log: AgentLogger;
  outputTailBytes?: number;
}

export interface FreezeRequester {
  /** Identifies the session, so its disconnection can release its freeze. */
  sessionId: string;
  /** The key fingerprint, for logs and reports. */
  by: string;
  thawOnDisconnect: boolean;
  /** A shorter watchdog than the agent's maximum, if the client asks for one. */
  maxFreezeMs?: number;
}

interface Frozen {
  atMs: number; // wall clock, for reports
  deadlineAtMs: number; // wall clock, for reports
  startedMonotonicMs: number;
  deadlineMonotonicMs: number;
  owner: FreezeRequester;
  freezeCommand: CommandReport;
  watchdog: NodeJS.Timeout;
}

type ReplyBody = Omit<AgentReply, 'op'>;

export class FreezeController {
  private frozen: Frozen | undefined;
  private lastThaw: LastThaw | undefined;
  // Freeze and thaw requests run one after the other, in arrival order.
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: FreezeControllerOptions) {}

  get state(): FreezeState {
    return this.frozen ? 'frozen' : 'thawed';
  }

  freeze(req: FreezeRequester): Promise<ReplyBody> {
    return this.serialize(() => this.doFreeze(req));
  }

  thaw(reason: ThawReason, by: string): Promise<ReplyBody> {
    return this.serialize(() => this.doThaw(reason, by));
  }

  status(): ReplyBody {
    return { ok: true, code: 'STATUS', message: this.frozen ? 'frozen' : 'not frozen', ...this.stateFields() };
  }

  /** Time left before the watchdog, when `sessionId` holds the freeze; 0 otherwise. */
  remainingMsFor(sessionId: string): number {
    const f = this.frozen;
    return f && f.owner.sessionId === sessionId ? Math.max(0, f.deadlineMonotonicMs - performance.now()) : 0;
  }

  /** A session ended: if it holds a freeze that should not outlive it, thaw now. */
  sessionClosed(sessionId: string): void {
    const f = this.frozen;
    if (f && f.owner.sessionId === sessionId && f.owner.thawOnDisconnect) {
      this.options.log({
        level: 'warn',
        event: 'disconnect-thaw',
        message: 'the client that froze the guest disconnected: thawing now',
        key: f.owner.by,
        session: sessionId,
      });
      void this.serialize(async () => {
        // Only if that same freeze is still in place when our turn comes.
        if (this.frozen === f) await this.doThaw('disconnect', f.owner.by);
      });
    }
  }

  /** Thaws if frozen and refuses further requests (agent shutdown). */
  async close(): Promise<void> {
    await this.serialize(async () => {
      if (this.frozen) await this.doThaw('shutdown', 'agent');
      this.closed = true;
    });
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private stateFields(): Pick<AgentReply, 'state' | 'frozenAt' | 'frozenForMs' | 'deadline' | 'thawOnDisconnect' | 'frozenBy' | 'lastThaw'> {
    const f = this.frozen;
    const last = this.lastThaw === undefined ? {} : { lastThaw: this.lastThaw };
    if (!f) return { state: 'thawed', ...last };
    const now = performance.now();
    return {
      state: 'frozen',
      frozenAt: new Date(f.atMs).toISOString(),
      frozenForMs: Math.round(now - f.startedMonotonicMs),
      deadline: new Date(f.deadlineAtMs).toISOString(),
      thawOnDisconnect: f.owner.thawOnDisconnect,
      frozenBy: f.owner.by,
      ...last,
    };
  }

  private async doFreeze(req: FreezeRequester): Promise<ReplyBody> {
    const log = this.options.log;
    if (this.closed) return { ok: false, code: 'FREEZE_FAILED', message: 'the agent is shutting down', ...this.stateFields() };
    if (this.frozen) {
      // Extending or re-arming would let repeated requests hold the guest frozen for ever.
      log({ level: 'warn', event: 'freeze-refused', message: 'freeze requested while already frozen: nothing run, deadline unchanged', key: req.by, session: req.sessionId });
      return { ok: false, code: 'ALREADY_FROZEN', message: 'already frozen: the freeze command was not run and the deadline is unchanged', ...this.stateFields() };
    }
    const maxFreezeMs = Math.min(this.options.maxFreezeMs, req.maxFreezeMs ?? Number.POSITIVE_INFINITY);
    const atMs = Date.now();
    const startedMonotonicMs = performance.now();
    log({
      level: 'info',
      event: 'freeze-start',
      message: `running the freeze command: ${describeCommand(this.options.freezeCommand)}`,
      key: req.by,
      session: req.sessionId,
      maxFreezeSeconds: maxFreezeMs / 1000,
    });
    const report = await runHookCommand(this.options.freezeCommand, {
      timeoutMs: Math.min(this.options.freezeTimeoutMs, maxFreezeMs),
      env: { SNAPCLONE_AGENT_ACTION: 'freeze', SNAPCLONE_AGENT_REASON: 'client', SNAPCLONE_AGENT_CLIENT: req.by },
      outputTailBytes: this.options.outputTailBytes,
    });
    if (!commandSucceeded(report)) {
      log({ level: 'error', event: 'freeze-failed', message: `the freeze command failed (${describeReport(report)}): running the thaw command`, key: req.by, session: req.sessionId, exitCode: report.exitCode, timedOut: report.timedOut });
      // A failed freeze may have stopped some services: undo whatever it did, as qemu-ga does.
      const thawReport = await this.runThawCommand('freeze-failed', req.by);
      this.lastThaw = { at: new Date().toISOString(), reason: 'freeze-failed', by: req.by, frozenForMs: Math.round(performance.now() - startedMonotonicMs), command: thawReport };
      return { ok: false, code: 'FREEZE_FAILED', message: `the freeze command failed (${describeReport(report)}); the thaw command was run`, freezeCommand: report, thawCommand: thawReport, ...this.stateFields() };
    }
    const deadlineMonotonicMs = startedMonotonicMs + maxFreezeMs;
    const remainingMs = Math.max(0, deadlineMonotonicMs - performance.now());
    const watchdog = setTimeout(() => this.onWatchdog(frozen), remainingMs);
    const frozen: Frozen = { atMs, deadlineAtMs: atMs + maxFreezeMs, startedMonotonicMs, deadlineMonotonicMs, owner: req, freezeCommand: report, watchdog };
    this.frozen = frozen;
    log({
      level: 'info',
      event: 'frozen',
      message: `frozen (freeze command took ${report.durationMs} ms); the watchdog thaws in ${(remainingMs / 1000).toFixed(1)} s`,
      key: req.by,
      session: req.sessionId,
      thawOnDisconnect: req.thawOnDisconnect,
    });
    return { ok: true, code: 'FROZEN', message: 'frozen', freezeCommand: report, ...this.stateFields() };
  }

  private onWatchdog(f: Frozen): void {
    if (this.frozen !== f) return;
    this.options.log({
      level: 'warn',
      event: 'watchdog',
      message: `frozen for ${((performance.now() - f.startedMonotonicMs) / 1000).toFixed(1)} s, the limit: the watchdog runs the thaw command`,
      key: f.owner.by,
      session: f.owner.sessionId,
    });
    void this.serialize(async () => {
      if (this.frozen === f) await this.doThaw('watchdog', 'agent');
    });
  }

  private async doThaw(reason: ThawReason, by: string): Promise<ReplyBody> {
    const f = this.frozen;
    if (!f) {
      this.options.log({ level: 'info', event: 'thaw-not-frozen', message: 'thaw requested while not frozen: nothing run', key: by });
      return { ok: true, code: 'NOT_FROZEN', message: 'not frozen: the thaw command was not run', ...this.stateFields() };
    }
    clearTimeout(f.watchdog);
    const frozenForMs = Math.round(performance.now() - f.startedMonotonicMs);
    const report = await this.runThawCommand(reason, by);
    // Whatever the thaw command did, the freeze is over: nothing would retry it more safely.
    this.frozen = undefined;
    this.lastThaw = { at: new Date().toISOString(), reason, by, frozenForMs, command: report };
    if (!commandSucceeded(report)) {
      return { ok: false, code: 'THAW_FAILED', message: `the thaw command failed (${describeReport(report)})`, thawCommand: report, ...this.stateFields() };
    }
    return { ok: true, code: 'THAWED', message: `thawed after ${frozenForMs} ms frozen`, thawCommand: report, ...this.stateFields() };
  }

  private async runThawCommand(reason: ThawReason, by: string): Promise<CommandReport> {
    const log = this.options.log;
    log({ level: 'info', event: 'thaw-start', message: `running the thaw command (${reason}): ${describeCommand(this.options.thawCommand)}`, key: by, reason });
    const report = await runHookCommand(this.options.thawCommand, {
      timeoutMs: this.options.thawTimeoutMs,
      env: { SNAPCLONE_AGENT_ACTION: 'thaw', SNAPCLONE_AGENT_REASON: reason, SNAPCLONE_AGENT_CLIENT: by },
      outputTailBytes: this.options.outputTailBytes,
    });
    if (commandSucceeded(report)) log({ level: 'info', event: 'thawed', message: `thawed (${reason}; thaw command took ${report.durationMs} ms)`, key: by, reason });
    else log({ level: 'error', event: 'thaw-failed', message: `the thaw command failed (${describeReport(report)})`, key: by, reason, exitCode: report.exitCode, timedOut: report.timedOut });
    return report;
  }
}

export function describeReport(r: CommandReport): string {
  if (r.startError) return `could not start: ${r.startError}`;
  if (r.timedOut) return `timed out after ${r.durationMs} ms`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit status ${r.exitCode ?? '?'}`;
}
