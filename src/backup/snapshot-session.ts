// The snapshot lifecycle of one backup, crash-safe: resolve the source, take its lock, clear what
// dead runs left, size the snapshot (refusing early without room), journal it, create it, watch its
// fill; then remove it, close the journal and release the lock, also on SIGINT/SIGTERM.
// Spec: issue 5 (prompts), anchors.md §4 and §5 features 1-2.

import { SnapcloneError } from '../core/errors.js';
import { formatBytes } from '../core/units.js';
import { onShutdown } from '../io/shutdown.js';
import type { Lvm } from '../lvm/lvm.js';
import { resolveSource, type LvSource } from '../lvm/source.js';
import { planSnapshotSize, type SnapshotSizePlan } from '../lvm/snapshot-size.js';
import { watchSnapshot, type SnapshotWatcher } from '../lvm/snapshot-watcher.js';
import { createSnapshot, newSnapshotName, readSnapshotState, removeSnapshot, type SnapshotInfo } from '../lvm/snapshot.js';
import { recoverLeftovers, type RecoveryReport } from './recover-leftovers.js';
import { ResourceJournal } from './resource-journal.js';
import { acquireSourceLock, type SourceLock } from './source-lock.js';
import { ensureStateDir } from './state-dir.js';

export interface SnapshotSessionOptions {
  /** SOURCE as the user gave it: /dev/VG/LV, /dev/mapper/VG-LV or VG/LV. */
  source: string;
  stateDir: string;
  lvm: Lvm;
  /** --snapshot-size; default: the policy in snapshot-size.ts. */
  snapshotSizeBytes?: number;
  /** Fill watching; false turns it off. Defaults: every 5 s, abort at 90%. */
  watch?: { intervalMs?: number; abortAtPercent?: number } | false;
  /** Written in the lock and the journal ("backup"). */
  command?: string;
  log?: (message: string) => void;
  /** Called when the watcher aborts (the signal is aborted too). */
  onAbort?: (reason: SnapcloneError) => void;
  /**
   * Wraps the creation of the snapshot alone (`lvcreate -s`), after the lock, the recovery sweep,
   * the sizing and the journal intent: a guest freeze goes here, so that it lasts no longer than
   * the snapshot's creation. It must call `create` at most once and return its result.
   */
  aroundCreate?: (create: () => Promise<SnapshotInfo>) => Promise<SnapshotInfo>;
}

export interface SnapshotSession {
  readonly source: LvSource;
  readonly snapshot: SnapshotInfo;
  readonly sizePlan: SnapshotSizePlan;
  /** What the start-of-run sweep removed. */
  readonly recovery: RecoveryReport;
  readonly journal: ResourceJournal;
  readonly lock: SourceLock;
  readonly watcher: SnapshotWatcher | undefined;
  /** Aborted with LVM_SNAPSHOT_FILLING / _INVALID / _MISSING when the snapshot cannot be trusted. */
  readonly signal: AbortSignal;
  /**
   * Ends the session: checks the snapshot is still valid (unless `verify` is false), removes it,
   * closes the journal and releases the lock. Throws the check's error after cleaning up.
   */
  close(options?: { verify?: boolean }): Promise<{ peakFillPercent: number | undefined }>;
}

export async function openSnapshotSession(options: SnapshotSessionOptions): Promise<SnapshotSession> {
  const { lvm, stateDir } = options;
  const log = options.log ?? (() => {});
  const command = options.command ?? 'backup';
  const source = await resolveSource(options.source, lvm);
  await lvm.assertDeviceMapper();
  await ensureStateDir(stateDir);
  const lock = await acquireSourceLock(stateDir, source.vg, source.lv, command);
  // Undo steps, run newest first, each once; the first failure is kept and reported.
  const undo: (() => Promise<unknown>)[] = [() => lock.release()];
  const unwind = async (): Promise<unknown> => {
    let firstError: unknown;
    for (const step of undo.splice(0).reverse()) {
      await step().catch((e: unknown) => {
        firstError ??= e;
      });
    }
    return firstError;
  };
  try {
    const recovery = await recoverLeftovers(stateDir, { lvm, log });
    const vg = await lvm.findVg(source.vg);
    if (!vg) throw new SnapcloneError('LVM_VG_NOT_FOUND', `volume group ${source.vg} disappeared`, { kind: 'external' });
    const sizePlan = planSnapshotSize({
      vgName: vg.name,
      lvName: source.lv,
      lvSizeBytes: source.sizeBytes,
      vgFreeBytes: vg.freeBytes,
      extentSizeBytes: vg.extentSizeBytes,
      requestedBytes: options.snapshotSizeBytes,
    });
    const journal = await ResourceJournal.begin(stateDir, command, `${source.vg}/${source.lv}`);
    undo.push(() => journal.finish());
    const name = newSnapshotName(source.vg, source.lv);
    const id = await journal.intend({ type: 'snapshot', vg: source.vg, name, origin: source.lv });
    // If creation fails half way, or we are interrupted, the snapshot may exist: remove it by name.
    let removeNow = async (): Promise<void> => {
      const r = await removeSnapshot(lvm, source.vg, name);
      if (r.removed) log(`removed snapshot ${source.vg}/${name}`);
      await journal.removed(id);
    };
    undo.push(() => removeNow());
    const unregister = onShutdown(`snapshot ${source.vg}/${name}`, async () => {
      const e = await unwind();
      if (e !== undefined) throw e;
    });
    undo.unshift(async () => unregister());
    const create = (): Promise<SnapshotInfo> => createSnapshot(lvm, source.vg, source.lv, { sizeBytes: sizePlan.sizeBytes, name });
    const snapshot = await (options.aroundCreate ? options.aroundCreate(create) : create());
    await journal.created(id, snapshot.uuid);
    removeNow = async () => {
      const r = await removeSnapshot(lvm, source.vg, name, { expectedUuid: snapshot.uuid });
      if (r.mappingsRemoved.length > 0) log(`removed partition maps ${r.mappingsRemoved.join(', ')} of ${source.vg}/${name}`);
      await journal.removed(id);
    };
    log(`created snapshot ${source.vg}/${name} (${formatBytes(sizePlan.sizeBytes)}, ${sizePlan.basis})`);

    let watcher: SnapshotWatcher | undefined;
    if (options.watch !== false) {
      watcher = watchSnapshot({
        read: () => readSnapshotState(lvm, source.vg, name),
        snapshot: `${source.vg}/${name}`,
        sizeBytes: sizePlan.sizeBytes,
        intervalMs: options.watch?.intervalMs,
        abortAtPercent: options.watch?.abortAtPercent,
        onAbort: (reason) => {
          log(`${reason.code}: ${reason.message}`);
          options.onAbort?.(reason);
        },
      });
      const w = watcher;
      undo.push(() => w.stop());
    }
    const signal = watcher?.signal ?? new AbortController().signal;
    let closed = false;
    return {
      source,
      snapshot,
      sizePlan,
      recovery,
      journal,
      lock,
      watcher,
      signal,
      async close(closeOptions = {}) {
        if (closed) return { peakFillPercent: watcher?.peakPercent };
        closed = true;
        let verdict: unknown;
        if (watcher) {
          await watcher.stop();
          if (closeOptions.verify !== false) await watcher.checkNow().catch((e: unknown) => (verdict = e));
        }
        const cleanupError = await unwind();
        if (verdict !== undefined) throw verdict;
        if (cleanupError !== undefined) throw cleanupError;
        return { peakFillPercent: watcher?.peakPercent };
      },
    };
  } catch (e) {
    await unwind();
    throw e;
  }
}
