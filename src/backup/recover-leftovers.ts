// Finds and removes what killed runs left behind, and reports each thing: resources listed in the
// journals of dead runs (snapshots, partition maps, unfinished sets), snapclone-tagged snapshots no
// journal knows about, and stale locks. Called at the start of every backup and by `snapclone
// cleanup`. Spec: anchors.md §4 item 3 and §5 feature 1; prompts "Crash-safety primitives".

import { appendFile, readdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isSnapcloneError, SnapcloneError } from '../core/errors.js';
import { removeDmDevice } from '../lvm/dm-mappings.js';
import type { Lvm } from '../lvm/lvm.js';
import { listSnapcloneSnapshots, removeSnapshot, type SnapshotInfo } from '../lvm/snapshot.js';
import { ioError } from '../io/source-file.js';
import { parseJournal, resourceTarget, pendingResources, serializeEntry, TEMPORARY_NAME, type JournalResource, type ParsedJournal } from './journal-format.js';
import { currentOwner, isCurrentProcess, ownerLiveness, type ProcessOwner } from './process-owner.js';
import { listJournalFiles } from './resource-journal.js';
import { isLockFileName, lockPath, readLock, takeOverStaleLock, type LockRecord } from './source-lock.js';
import { locksDir } from './state-dir.js';
import { MAX_JOURNAL_BYTES, readSmallFile } from './read-small-file.js';

export type LeftoverKind = 'snapshot' | 'mapping' | 'temp-dir' | 'lock' | 'journal';
export type LeftoverOutcome = 'removed' | 'already-gone' | 'would-remove' | 'skipped' | 'failed';

export interface LeftoverAction {
  kind: LeftoverKind;
  /** What it is: "vg0/snapclone-web-...", a path, a device-mapper name. */
  target: string;
  /**
   * How it was found: a dead run's journal, the snapclone LVM tag, the locks directory, or a scan of a
   * backup destination (`cleanup --dest`).
   */
  foundBy: 'journal' | 'tag' | 'lock-file' | 'dest-scan';
  outcome: LeftoverOutcome;
  /** Who left it: "pid 1234 (backup of vg0/web, started ...)". */
  leftBy?: string;
  detail?: string;
  /** For 'failed': the error code. */
  code?: string;
}

export interface RecoveryReport {
  actions: LeftoverAction[];
  /** Things removed (or, with dryRun, that would be). */
  removedCount: number;
  failedCount: number;
  /** Journals of runs still in progress, left alone. */
  liveRuns: string[];
}

export interface RecoverOptions {
  lvm: Lvm;
  /** One line per finding, for humans. */
  log?: (message: string) => void;
  /** Report what would be removed; change nothing. */
  dryRun?: boolean;
}

/**
 * Removes what dead runs left behind. A run that is still alive (its pid runs, with the same start
 * time) is never touched, nor is a snapshot of an LV whose lock a live process holds. The calling
 * process's own lock does not protect anything: a backup calls this after taking its lock, to clear
 * what its own dead predecessor left.
 */
export async function recoverLeftovers(stateDir: string, options: RecoverOptions): Promise<RecoveryReport> {
  const recovery = new Recovery(stateDir, options, await currentOwner());
  await recovery.run();
  return recovery.report();
}

interface JournalAppender {
  path: string;
  needsNewline: boolean;
}

class Recovery {
  private readonly actions: LeftoverAction[] = [];
  private readonly liveRuns: string[] = [];
  /** Snapshots ("vg/name") that live runs' journals list: never removed by the tag sweep. */
  private readonly protectedSnapshots = new Set<string>();
  /** Snapshots handled through a journal already, or this process's own: the tag sweep skips them. */
  private readonly handledSnapshots = new Set<string>();

  constructor(
    private readonly stateDir: string,
    private readonly options: RecoverOptions,
    private readonly self: ProcessOwner,
  ) {}

  report(): RecoveryReport {
    const removedCount = this.actions.filter((a) => a.outcome === 'removed' || a.outcome === 'would-remove').length;
    const failedCount = this.actions.filter((a) => a.outcome === 'failed').length;
    return { actions: this.actions, removedCount, failedCount, liveRuns: this.liveRuns };
  }

  async run(): Promise<void> {
    await this.recoverJournals();
    await this.sweepTaggedSnapshots();
    await this.removeStaleLocks();
  }

  private record(action: LeftoverAction): void {
    this.actions.push(action);
    const verb: Record<LeftoverOutcome, string> = {
      removed: 'removed',
      'already-gone': 'already gone:',
      'would-remove': 'would remove',
      skipped: 'left alone:',
      failed: 'FAILED to remove',
    };
    const kindName = action.kind === 'temp-dir' ? 'unfinished set' : action.kind;
    const parts = [`cleanup: ${verb[action.outcome]} ${kindName} ${action.target}`];
    if (action.leftBy) parts.push(`left by ${action.leftBy}`);
    if (action.detail) parts.push(action.detail);
    this.options.log?.(parts.join('; '));
  }

  // --- journals ----------------------------------------------------------------------------------

  private async recoverJournals(): Promise<void> {
    for (const path of await listJournalFiles(this.stateDir)) {
      let journal: ParsedJournal;
      let text: string;
      try {
        text = await readSmallFile(path, MAX_JOURNAL_BYTES);
        journal = parseJournal(text, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // its run just finished
        this.record({ kind: 'journal', target: path, foundBy: 'journal', outcome: 'failed', detail: errorText(e), code: errorCode(e) });
        continue;
      }
      for (const w of journal.warnings) this.options.log?.(`cleanup: warning ${w.code}: ${w.message}`);
      const owner = journal.begin.owner;
      const leftBy = `pid ${owner.pid} (${journal.begin.command} of ${journal.begin.source}, started ${journal.begin.time})`;
      // A run still alive, or one of this process's own sessions (a backup of several LVs): its
      // resources are in use, and its own code removes them.
      const own = isCurrentProcess(owner, this.self);
      if (own || (await ownerLiveness(owner)) !== 'dead') {
        if (!own) this.liveRuns.push(path);
        for (const r of pendingResources(journal)) {
          if (r.resource.type !== 'snapshot') continue;
          // Our own snapshots are passed over in silence; another run's are reported as left alone.
          (own ? this.handledSnapshots : this.protectedSnapshots).add(`${r.resource.vg}/${r.resource.name}`);
        }
        continue;
      }
      let allGone = true;
      // A line the dead run did not finish must not swallow the lines appended now.
      const appendTo: JournalAppender = { path, needsNewline: text !== '' && !text.endsWith('\n') };
      // Reverse order of creation: maps before the snapshot they sit on, the set after.
      for (const r of pendingResources(journal).reverse()) {
        const gone = await this.removeJournalResource(appendTo, r, leftBy);
        allGone &&= gone;
      }
      if (this.options.dryRun) {
        this.record({ kind: 'journal', target: path, foundBy: 'journal', outcome: 'would-remove', leftBy });
      } else if (allGone) {
        await rm(path, { force: true });
        this.record({ kind: 'journal', target: path, foundBy: 'journal', outcome: 'removed', leftBy });
      }
    }
  }

  /** Removes one resource of a dead run; true when it is gone afterwards. */
  private async removeJournalResource(journal: JournalAppender, r: JournalResource, leftBy: string): Promise<boolean> {
    const resource = r.resource;
    const kind = resource.type;
    const target = resourceTarget(resource);
    if (resource.type === 'snapshot') this.handledSnapshots.add(`${resource.vg}/${resource.name}`);
    if (this.options.dryRun) {
      this.record({ kind, target, foundBy: 'journal', outcome: 'would-remove', leftBy, detail: r.state === 'intended' ? 'creation may not have finished' : undefined });
      return false;
    }
    try {
      let existed: boolean;
      switch (resource.type) {
        case 'snapshot': {
          const result = await removeSnapshot(this.options.lvm, resource.vg, resource.name, r.uuid ? { expectedUuid: r.uuid } : {});
          for (const m of result.mappingsRemoved) this.record({ kind: 'mapping', target: m, foundBy: 'journal', outcome: 'removed', leftBy, detail: `stacked on ${resource.vg}/${resource.name}` });
          existed = result.removed;
          break;
        }
        case 'mapping':
          existed = await removeDmDevice(this.options.lvm, resource.name);
          break;
        case 'temp-dir':
          existed = await removeTemporaryDirectory(resource.path);
          break;
      }
      const line = serializeEntry({ op: 'removed', id: r.id, time: new Date().toISOString() });
      await appendFile(journal.path, journal.needsNewline ? `\n${line}` : line);
      journal.needsNewline = false;
      this.record({ kind, target, foundBy: 'journal', outcome: existed ? 'removed' : 'already-gone', leftBy });
      return true;
    } catch (e) {
      this.record({ kind, target, foundBy: 'journal', outcome: 'failed', leftBy, detail: errorText(e), code: errorCode(e) });
      return false;
    }
  }

  // --- snapshots found by tag ---------------------------------------------------------------------

  private async sweepTaggedSnapshots(): Promise<void> {
    let snapshots: SnapshotInfo[];
    try {
      snapshots = await listSnapcloneSnapshots(this.options.lvm);
    } catch (e) {
      if (isSnapcloneError(e) && e.code === 'LVM_NOT_FOUND') {
        this.options.log?.('cleanup: LVM is not installed here, so there are no snapshots to look for');
        return;
      }
      this.record({ kind: 'snapshot', target: '@snapclone', foundBy: 'tag', outcome: 'failed', detail: `cannot list tagged snapshots: ${errorText(e)}`, code: errorCode(e) });
      return;
    }
    for (const snap of snapshots) {
      const key = `${snap.vg}/${snap.name}`;
      if (this.handledSnapshots.has(key)) continue;
      const origin = snap.taggedOrigin ?? (snap.origin ? { vg: snap.vg, lv: snap.origin } : undefined);
      const detail = `tagged snapclone, origin ${origin ? `${origin.vg}/${origin.lv}` : 'unknown'}, created ${snap.createdAt}`;
      if (this.protectedSnapshots.has(key)) {
        this.record({ kind: 'snapshot', target: key, foundBy: 'tag', outcome: 'skipped', detail: 'a running snapclone uses it' });
        continue;
      }
      if (origin) {
        const held = await readLock(lockPath(this.stateDir, origin.vg, origin.lv)).catch(() => undefined);
        if (held && held !== 'unreadable' && !isCurrentProcess(held.owner, this.self) && (await ownerLiveness(held.owner)) !== 'dead') {
          this.record({ kind: 'snapshot', target: key, foundBy: 'tag', outcome: 'skipped', detail: `pid ${held.owner.pid} holds the lock on ${held.source}` });
          continue;
        }
      }
      if (this.options.dryRun) {
        this.record({ kind: 'snapshot', target: key, foundBy: 'tag', outcome: 'would-remove', detail });
        continue;
      }
      try {
        const result = await removeSnapshot(this.options.lvm, snap.vg, snap.name, { expectedUuid: snap.uuid });
        for (const m of result.mappingsRemoved) this.record({ kind: 'mapping', target: m, foundBy: 'tag', outcome: 'removed', detail: `stacked on ${key}` });
        this.record({ kind: 'snapshot', target: key, foundBy: 'tag', outcome: result.removed ? 'removed' : 'already-gone', detail });
      } catch (e) {
        this.record({ kind: 'snapshot', target: key, foundBy: 'tag', outcome: 'failed', detail: errorText(e), code: errorCode(e) });
      }
    }
  }

  // --- locks --------------------------------------------------------------------------------------

  private async removeStaleLocks(): Promise<void> {
    const dir = locksDir(this.stateDir);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError(e, dir, 'list the locks in');
    }
    for (const name of names.sort()) {
      const path = join(dir, name);
      if (!isLockFileName(name)) {
        await this.removeLockDebris(path, name);
        continue;
      }
      let held: LockRecord | 'unreadable' | undefined;
      try {
        held = await readLock(path);
      } catch (e) {
        this.record({ kind: 'lock', target: path, foundBy: 'lock-file', outcome: 'failed', detail: errorText(e), code: errorCode(e) });
        continue;
      }
      if (held === undefined) continue;
      if (held === 'unreadable') {
        this.record({ kind: 'lock', target: path, foundBy: 'lock-file', outcome: 'skipped', detail: 'not a snapclone lock record; remove it by hand if no snapclone runs' });
        continue;
      }
      if (isCurrentProcess(held.owner, this.self) || (await ownerLiveness(held.owner)) !== 'dead') continue;
      const leftBy = `pid ${held.owner.pid} (${held.command} of ${held.source}, since ${held.since})`;
      if (this.options.dryRun) {
        this.record({ kind: 'lock', target: path, foundBy: 'lock-file', outcome: 'would-remove', leftBy });
        continue;
      }
      const taken = await takeOverStaleLock(path, held);
      this.record({ kind: 'lock', target: path, foundBy: 'lock-file', outcome: taken ? 'removed' : 'already-gone', leftBy });
    }
  }

  /** Temporaries of lock creation ("X.lock.PID-HEX.tmp", "X.lock.stale-PID-HEX") whose process died. */
  private async removeLockDebris(path: string, name: string): Promise<void> {
    const m = /\.lock\.(?:stale-)?(\d+)-[0-9a-f]+(?:\.tmp)?$/.exec(name);
    if (!m) return;
    const pid = Number(m[1]);
    if ((await ownerLiveness({ pid, hostname: this.self.hostname })) !== 'dead') return;
    if (this.options.dryRun) {
      this.record({ kind: 'lock', target: path, foundBy: 'lock-file', outcome: 'would-remove', leftBy: `pid ${pid}`, detail: 'an unfinished lock file' });
      return;
    }
    await rm(path, { force: true });
    this.record({ kind: 'lock', target: path, foundBy: 'lock-file', outcome: 'removed', leftBy: `pid ${pid}`, detail: 'an unfinished lock file' });
  }
}

/** Removes a snapclone temporary directory (or file); false when it was not there. */
async function removeTemporaryDirectory(path: string): Promise<boolean> {
  // journal-format checked the name already; check again here, this is the place that deletes.
  if (!TEMPORARY_NAME.test(basename(path))) {
    throw new SnapcloneError('SET_NOT_TEMPORARY', `${path} is not named like a snapclone temporary; it is left alone`, { kind: 'refused', path });
  }
  try {
    await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(e, path, 'inspect');
  }
  try {
    await rm(path, { recursive: true, force: true });
  } catch (e) {
    throw ioError(e, path, 'remove');
  }
  return true;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown): string | undefined {
  return isSnapcloneError(e) ? e.code : undefined;
}
