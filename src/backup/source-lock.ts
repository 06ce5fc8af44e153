// One backup of one LV at a time: a lock file per source in the state directory, created atomically
// with its owner already written in it (written to a temporary file, then link(2)ed to the lock name,
// which fails if the lock exists), and taken over when its owner is dead. Spec: prompts "per-source lock".

import { link, open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SnapcloneError } from '../core/errors.js';
import { ioError } from '../io/source-file.js';
import { syncDirectory } from '../io/atomic-file.js';
import { dmName } from '../lvm/lvm-names.js';
import { currentOwner, ownerLiveness, parseOwner, type Liveness, type ProcessOwner } from './process-owner.js';
import { locksDir } from './state-dir.js';
import { MAX_LOCK_BYTES, readSmallFile } from './read-small-file.js';

export interface LockRecord {
  owner: ProcessOwner;
  /** "VG/LV" */
  source: string;
  command: string;
  /** ISO time the lock was taken. */
  since: string;
}

export interface SourceLock {
  readonly path: string;
  readonly record: LockRecord;
  /** Removes the lock if it is still this process's. */
  release(): Promise<void>;
}

const LOCK_SUFFIX = '.lock';
/** Taking over a stale lock can race with another process doing the same; a few rounds settle it. */
const MAX_ATTEMPTS = 5;

export function lockPath(stateDir: string, vg: string, lv: string): string {
  return join(locksDir(stateDir), `${dmName(vg, lv)}${LOCK_SUFFIX}`);
}

export function isLockFileName(name: string): boolean {
  return name.endsWith(LOCK_SUFFIX) && !name.startsWith('.');
}

/** Reads and validates a lock file; undefined when it is missing, 'unreadable' when it is garbage. */
export async function readLock(path: string): Promise<LockRecord | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readSmallFile(path, MAX_LOCK_BYTES);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'SET_STATE_FILE_TOO_LARGE') return 'unreadable';
    throw ioError(e, path, 'read the lock');
  }
  return parseLockRecord(text) ?? 'unreadable';
}

export function parseLockRecord(text: string): LockRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  const owner = parseOwner(r['owner']);
  if (!owner || typeof r['source'] !== 'string' || typeof r['command'] !== 'string' || typeof r['since'] !== 'string') return undefined;
  return { owner, source: r['source'], command: r['command'], since: r['since'] };
}

/**
 * Takes the lock on VG/LV for `command`. Throws SET_LOCKED (kind 'refused') naming the owner's pid
 * when a live process holds it; a lock whose owner died is taken over.
 */
export async function acquireSourceLock(stateDir: string, vg: string, lv: string, command: string): Promise<SourceLock> {
  const path = lockPath(stateDir, vg, lv);
  const record: LockRecord = { owner: await currentOwner(), source: `${vg}/${lv}`, command, since: new Date().toISOString() };
  const text = `${JSON.stringify(record)}\n`;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createWithContent(path, text)) {
      await syncDirectory(locksDir(stateDir));
      return makeLock(path, record, text);
    }
    const held = await readLock(path);
    if (held === undefined) continue; // released meanwhile
    if (held === 'unreadable') {
      throw new SnapcloneError('SET_LOCK_UNREADABLE', `the lock on ${vg}/${lv} is not a snapclone lock record`, {
        kind: 'refused',
        path,
        hint: 'if no snapclone runs on this source, remove the file by hand',
      });
    }
    const liveness = await ownerLiveness(held.owner);
    if (liveness !== 'dead') throw lockedError(path, held, liveness);
    await takeOverStaleLock(path, held);
  }
  throw new SnapcloneError('SET_LOCKED', `could not take the lock on ${vg}/${lv}: other processes keep taking it`, { kind: 'refused', path });
}

export function lockedError(path: string, held: LockRecord, liveness: Liveness): SnapcloneError {
  const where = liveness === 'other-host' ? ` on host ${held.owner.hostname}` : '';
  return new SnapcloneError(
    'SET_LOCKED',
    `${held.source} is locked by snapclone ${held.command} (pid ${held.owner.pid}${where}, since ${held.since})`,
    {
      kind: 'refused',
      path,
      hint:
        liveness === 'other-host'
          ? 'another host holds it; if that run is gone, remove the lock file by hand'
          : `wait for pid ${held.owner.pid} to finish; one backup of an LV runs at a time`,
    },
  );
}

/** Creates `path` holding `text`, atomically; false when it exists. */
async function createWithContent(path: string, text: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600).catch((e: unknown) => {
    throw ioError(e, temporary, 'create a lock');
  });
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(e, path, 'create the lock');
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * Moves a stale lock aside and deletes it, unless another process replaced it in the meantime (then
 * the moved file is a live lock: it is linked back, and the next round reports it).
 */
export async function takeOverStaleLock(path: string, stale: LockRecord): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(e, path, 'move a stale lock aside');
  }
  const moved = parseLockRecord(await readSmallFile(aside, MAX_LOCK_BYTES).catch(() => ''));
  const same =
    moved !== undefined &&
    moved.owner.pid === stale.owner.pid &&
    moved.owner.startTicks === stale.owner.startTicks &&
    moved.since === stale.since;
  if (!same) await link(aside, path).catch(() => {}); // EEXIST: a third process holds it now
  await rm(aside, { force: true });
  return same;
}

function makeLock(path: string, record: LockRecord, text: string): SourceLock {
  let released = false;
  return {
    path,
    record,
    async release() {
      if (released) return;
      released = true;
      // Only remove the lock if it is still ours (a cleanup may have judged us dead on a pid clash).
      const current = await readSmallFile(path, MAX_LOCK_BYTES).catch(() => undefined);
      if (current === text) await rm(path, { force: true });
    },
  };
}
