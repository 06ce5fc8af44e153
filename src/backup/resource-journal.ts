// Writes a run's resource journal: STATE/journal/<run id>.jsonl, created atomically with its "begin"
// line, then appended and fsynced before each resource is created ("intent") and after it is gone
// ("removed"), so that whatever a killed run leaves behind is listed on disk. Format: journal-format.ts.

import { link, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { utcStamp } from '../lvm/lvm-names.js';
import { ioError } from '../io/source-file.js';
import { syncDirectory } from '../io/atomic-file.js';
import { serializeEntry, type JournalEntry, type Resource, JOURNAL_VERSION } from './journal-format.js';
import { currentOwner } from './process-owner.js';
import { journalsDir } from './state-dir.js';

export const JOURNAL_SUFFIX = '.jsonl';

export class ResourceJournal {
  private nextId = 1;
  private readonly pendingIds = new Set<number>();
  private closed = false;
  /** Appends are serialized: two concurrent intents must not interleave their bytes. */
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    readonly runId: string,
    private readonly handle: FileHandle,
  ) {}

  /** Starts the journal of a new run of `command` on `source` ("VG/LV"). */
  static async begin(stateDir: string, command: string, source: string): Promise<ResourceJournal> {
    const dir = journalsDir(stateDir);
    const runId = `${utcStamp(new Date())}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const path = join(dir, `${runId}${JOURNAL_SUFFIX}`);
    const begin: JournalEntry = { op: 'begin', version: JOURNAL_VERSION, runId, owner: await currentOwner(), command, source, time: new Date().toISOString() };
    // The file appears with its complete first line, or not at all: a concurrent cleanup never sees
    // a journal without an owner.
    const temporary = join(dir, `.${runId}.tmp`);
    let handle: FileHandle;
    try {
      handle = await open(temporary, 'wx', 0o600);
      await handle.writeFile(serializeEntry(begin));
      await handle.sync();
      await link(temporary, path);
      await rm(temporary);
      await syncDirectory(dir);
    } catch (e) {
      await rm(temporary, { force: true });
      throw ioError(e, path, 'create the journal');
    }
    return new ResourceJournal(path, runId, handle);
  }

  /** Records, durably, that `resource` is about to be created; returns its id. */
  async intend(resource: Resource): Promise<number> {
    const id = this.nextId++;
    await this.append({ op: 'intent', id, resource, time: new Date().toISOString() });
    this.pendingIds.add(id);
    return id;
  }

  /** Records that resource `id` exists now (with the UUID LVM gave it, for snapshots). */
  async created(id: number, uuid?: string): Promise<void> {
    await this.append(uuid === undefined ? { op: 'created', id, time: new Date().toISOString() } : { op: 'created', id, uuid, time: new Date().toISOString() });
  }

  /** Records that resource `id` is gone. */
  async removed(id: number): Promise<void> {
    await this.append({ op: 'removed', id, time: new Date().toISOString() });
    this.pendingIds.delete(id);
  }

  /** Ids intended and not yet removed. */
  get pending(): number[] {
    return [...this.pendingIds];
  }

  /**
   * Ends the run. With nothing pending the journal is deleted; otherwise it is kept, with an "end"
   * line, for `snapclone cleanup` (or the next run) to remove what is listed.
   */
  async finish(): Promise<'deleted' | 'kept'> {
    if (this.closed) return this.pendingIds.size === 0 ? 'deleted' : 'kept';
    await this.append({ op: 'end', time: new Date().toISOString() });
    this.closed = true;
    await this.handle.close();
    if (this.pendingIds.size > 0) return 'kept';
    await rm(this.path, { force: true });
    return 'deleted';
  }

  private append(entry: JournalEntry): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) throw ioError(new Error('the journal is closed'), this.path, 'append to');
      try {
        await this.handle.appendFile(serializeEntry(entry));
        await this.handle.datasync();
      } catch (e) {
        throw ioError(e, this.path, 'append to the journal');
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }
}

/** The journal files in the state directory (complete ones: temporaries are skipped). */
export async function listJournalFiles(stateDir: string): Promise<string[]> {
  const dir = journalsDir(stateDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(e, dir, 'list the journals in');
  }
  return names.filter((n) => n.endsWith(JOURNAL_SUFFIX) && !n.startsWith('.')).sort().map((n) => join(dir, n));
}
