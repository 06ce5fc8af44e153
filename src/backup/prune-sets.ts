// Rotation on disk: after a new set is complete, deletes the complete sets of its label beyond the
// newest `keep` (rotation.ts chooses them). Each is first renamed to a hidden temporary name (listed
// in the run's journal), then removed, so that a set interrupted half-deleted never passes for a
// complete one and `snapclone cleanup` finishes the job. Spec: issue 5 "Rotation"; the seed's
// three rotating files.

import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from '../io/source-file.js';
import type { ResourceJournal } from './resource-journal.js';
import { setsToDelete } from './rotation.js';
import { listSets, type SetEntry } from './set-inventory.js';
import type { LeftoverAction } from './recover-leftovers.js';
import { temporarySetName } from './set-name.js';
import { syncDirectory } from '../io/atomic-file.js';

export interface PruneResult {
  deleted: SetEntry[];
  /** The complete sets of the label that remain, newest first. */
  kept: SetEntry[];
}

export async function pruneSets(
  destDir: string,
  label: string,
  keep: number,
  options: { journal?: ResourceJournal; log?: (message: string) => void } = {},
): Promise<PruneResult> {
  const sets = await listSets(destDir);
  const doomed = setsToDelete(
    sets.map((s) => ({ name: s.name, label: s.label, date: s.date, complete: s.status === 'complete' })),
    label,
    keep,
  );
  const doomedNames = new Set(doomed.map((d) => d.name));
  const deleted: SetEntry[] = [];
  for (const entry of sets.filter((s) => doomedNames.has(s.name)).reverse()) {
    const hidden = join(destDir, temporarySetName(entry.name, process.pid));
    const id = options.journal ? await options.journal.intend({ type: 'temp-dir', path: hidden }) : undefined;
    try {
      await rename(entry.path, hidden);
    } catch (e) {
      if (options.journal && id !== undefined) await options.journal.removed(id);
      // Another run of the same label rotated it away meanwhile: nothing left to do.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw ioError(e, entry.path, 'move aside the old set');
    }
    if (options.journal && id !== undefined) await options.journal.created(id);
    await syncDirectory(destDir);
    await rm(hidden, { recursive: true, force: true });
    if (options.journal && id !== undefined) await options.journal.removed(id);
    options.log?.(`rotation: deleted ${entry.name} (keeping the newest ${Math.max(1, keep)} of ${label})`);
    deleted.push(entry);
  }
  const kept = sets.filter((s) => s.status === 'complete' && s.label === label && !doomedNames.has(s.name));
  return { deleted, kept };
}

/**
 * Removes the temporaries in `destDir` whose run is dead (their owner file, or the pid in their name,
 * says so): sets a killed run never finished, or half-deleted ones, that no journal lists (a lost
 * state directory, another --state-dir). Sets of live runs, here or on other hosts, are left alone.
 */
export async function removeAbandonedSets(destDir: string, options: { dryRun?: boolean; log?: (message: string) => void } = {}): Promise<LeftoverAction[]> {
  const actions: LeftoverAction[] = [];
  for (const entry of await listSets(destDir)) {
    if (entry.status !== 'abandoned') continue;
    const leftBy = `pid ${entry.pid ?? '?'} (backup of ${entry.label})`;
    if (options.dryRun) {
      actions.push({ kind: 'temp-dir', target: entry.path, foundBy: 'dest-scan', outcome: 'would-remove', leftBy });
      options.log?.(`cleanup: would remove unfinished set ${entry.path}; left by ${leftBy}`);
      continue;
    }
    try {
      await rm(entry.path, { recursive: true, force: true });
      actions.push({ kind: 'temp-dir', target: entry.path, foundBy: 'dest-scan', outcome: 'removed', leftBy });
      options.log?.(`cleanup: removed unfinished set ${entry.path}; left by ${leftBy}`);
    } catch (e) {
      actions.push({ kind: 'temp-dir', target: entry.path, foundBy: 'dest-scan', outcome: 'failed', leftBy, detail: (e as Error).message, code: (e as { code?: string }).code });
      options.log?.(`cleanup: FAILED to remove unfinished set ${entry.path}: ${(e as Error).message}`);
    }
  }
  return actions;
}
