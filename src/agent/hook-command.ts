// Runs the agent's freeze and thaw commands: bounded in time (the whole process group is killed at the
// deadline) and in memory (only a tail of the output is kept, for the report sent to the hypervisor).
// Spec: docs/agent-protocol.md, "Freeze and thaw commands".

import { spawn } from 'node:child_process';

/** A shell command line (run by /bin/sh -c) or an argv vector (run directly). */
export type HookCommand = { shell: string } | { argv: string[] };

export interface CommandReport {
  /** Exit status, or null when killed by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** The last bytes of stdout and stderr together, as text. */
  outputTail: string;
  /** How many output bytes the command wrote in all. */
  outputBytes: number;
  /** Why the command could not be started, if it could not. */
  startError?: string;
}

export const DEFAULT_OUTPUT_TAIL_BYTES = 2048;
// After SIGTERM at the deadline, the group gets this long before SIGKILL.
const KILL_GRACE_MS = 2000;
// A command that left a background child holding its stdout (e.g. a lock-holding database client)
// has finished when it exits; its output is read for this long more, then no longer waited for.
const STDIO_DRAIN_MS = 200;

export function describeCommand(c: HookCommand): string {
  return 'shell' in c ? c.shell : c.argv.join(' ');
}

export function commandSucceeded(r: CommandReport): boolean {
  return r.exitCode === 0 && !r.timedOut;
}

export function runHookCommand(
  command: HookCommand,
  options: { timeoutMs: number; env?: Record<string, string>; outputTailBytes?: number },
): Promise<CommandReport> {
  const tailBytes = options.outputTailBytes ?? DEFAULT_OUTPUT_TAIL_BYTES;
  const startMs = performance.now();
  const [file, args] = 'shell' in command ? ['/bin/sh', ['-c', command.shell]] : [command.argv[0] ?? '', command.argv.slice(1)];
  return new Promise((resolve) => {
    let tail = Buffer.alloc(0);
    let outputBytes = 0;
    let timedOut = false;
    let settled = false;
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout kills what it started too
      env: { ...process.env, ...options.env },
    });
    const onOutput = (b: Buffer): void => {
      outputBytes += b.length;
      tail = tail.length + b.length <= tailBytes ? Buffer.concat([tail, b]) : Buffer.concat([tail, b]).subarray(-tailBytes);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    }, options.timeoutMs);
    const finish = (exitCode: number | null, signal: string | null, startError?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        exitCode,
        signal,
        timedOut,
        durationMs: Math.round(performance.now() - startMs),
        outputTail: printable(tail),
        outputBytes,
        ...(startError === undefined ? {} : { startError }),
      });
    };
    child.on('error', (e: NodeJS.ErrnoException) => finish(null, null, `${e.code ?? 'error'}: ${e.message}`));
    child.on('exit', (code, signal) => {
      let open = 2;
      const drained = (): void => {
        if (--open === 0) finish(code, signal);
      };
      for (const stream of [child.stdout, child.stderr]) {
        if (stream.closed) drained();
        else stream.once('close', drained);
      }
      setTimeout(() => finish(code, signal), STDIO_DRAIN_MS).unref();
    });
  });
}

/** Output as text for a log line or a JSON reply: UTF-8, control characters other than \n and \t dropped. */
function printable(b: Buffer): string {
  return b.toString('utf8').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}
