// Who owns a lock or a journal, and whether that process still lives: the pid plus the process's
// start time from /proc/PID/stat (field 22), so that a pid reused by an unrelated process after a
// crash does not pass for the owner. Spec: prompts "Crash-safety primitives".

import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';

export interface ProcessOwner {
  pid: number;
  /** Clock ticks after boot at which the process started; absent where /proc is not readable. */
  startTicks?: number;
  hostname: string;
}

/** The start time of `pid` in clock ticks after boot, or undefined (no /proc, or no such process). */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]); // field 22 overall; fields[0] is field 3
  return Number.isSafeInteger(ticks) && ticks >= 0 ? ticks : undefined;
}

export async function currentOwner(): Promise<ProcessOwner> {
  const startTicks = await processStartTicks(process.pid);
  return startTicks === undefined ? { pid: process.pid, hostname: hostname() } : { pid: process.pid, startTicks, hostname: hostname() };
}

export type Liveness = 'alive' | 'dead' | 'other-host';

/**
 * Whether the owner still runs. A record written on another host (a state directory on shared
 * storage) cannot be judged from here and counts as alive for safety.
 */
export async function ownerLiveness(owner: ProcessOwner): Promise<Liveness> {
  if (owner.hostname !== hostname()) return 'other-host';
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return 'dead';
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return 'dead';
  }
  if (owner.startTicks !== undefined) {
    const now = await processStartTicks(owner.pid);
    if (now !== undefined && now !== owner.startTicks) return 'dead'; // the pid was reused
  }
  return 'alive';
}

export function isCurrentProcess(owner: ProcessOwner, self: ProcessOwner): boolean {
  return owner.pid === self.pid && owner.hostname === self.hostname && owner.startTicks === self.startTicks;
}

/** Validates an owner read back from a file. */
export function parseOwner(value: unknown): ProcessOwner | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v['pid']) || (v['pid'] as number) <= 0 || typeof v['hostname'] !== 'string') return undefined;
  const owner: ProcessOwner = { pid: v['pid'] as number, hostname: v['hostname'] };
  if (v['startTicks'] !== undefined) {
    if (!Number.isSafeInteger(v['startTicks'])) return undefined;
    owner.startTicks = v['startTicks'] as number;
  }
  return owner;
}
