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
