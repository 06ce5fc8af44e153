// `snapclone backup` as a whole: the seed's recipe (freeze, lvcreate -s, ntfsclone | bzip2 per
// partition, dd of the MBR, rotate three files, lvremove) in one crash-safe run. An LV is snapshotted
// through the snapshot session (lock, start-of-run sweep, journal, fill watcher), optionally inside a
// guest freeze; any other source is read live with a warning. The set is built under a temporary
// name and renamed when complete; the snapshot's validity is checked before that; old sets are
// rotated out only afterwards. Spec: issue 5 (prompts) "backup".

import { availableParallelism } from 'node:os';
import { isSnapcloneError, SnapcloneError } from '../core/errors.js';
import { silentProgress, type Progress } from '../core/progress.js';
import { formatBytes } from '../core/units.js';
import { onShutdown } from '../io/shutdown.js';
import { SourceFile } from '../io/source-file.js';
import { logicalSectorSize } from '../io/logical-sector-size.js';
import type { Lvm } from '../lvm/lvm.js';
import type { SnapshotInfo } from '../lvm/snapshot.js';
import { imageDisk } from './backup-disk.js';
import { classifySource, defaultLabel, refuseMountedSource, type BackupSource } from './backup-source.js';
import { planDiskBackup } from './disk-plan.js';
import type { GuestFreeze, GuestFreezeOptions } from './guest-freeze.js';
import { knownAgentsPath } from './known-agents.js';
import { manifestHead, type Consistency, type Manifest } from './manifest.js';
import { pruneSets, type PruneResult } from './prune-sets.js';
import { recoverLeftovers, type RecoveryReport } from './recover-leftovers.js';
import { ResourceJournal } from './resource-journal.js';
import { openSnapshotSession, type SnapshotSession } from './snapshot-session.js';
import { ensureStateDir } from './state-dir.js';
import { SetWriter } from './set-writer.js';
import { validateLabel } from './set-name.js';

export const DEFAULT_KEEP = 3;
/** bzip2 -2, as the seed: smaller blocks split better across threads and decode faster; -9 saves ~2%. */
export const DEFAULT_LEVEL = 2;

export interface BackupOptions {
  source: string;
  destDir: string;
  label?: string;
  /** Complete sets of the label to keep (default 3, as in the seed). */
  keep?: number;
  snapshotSizeBytes?: number;
  /** bzip2 block size 1..9 (default 2, as the seed's bzip2 -2). */
  level?: number;
  threads?: number;
  force?: boolean;
  rawPartitions?: number[];
  /** Freeze the guest around the snapshot. */
  agent?: Omit<GuestFreezeOptions, 'log'>;
  stateDir: string;
  lvm: Lvm;
  /** Fill watching of the snapshot; false turns it off (default: every 5 s, abort at 90%). */
  watch?: { intervalMs?: number; abortAtPercent?: number } | false;
  progress?: Progress;
  /** Tool name and version for the manifest. */
  tool: { name: string; version: string };
}

export interface BackupReport {
  setPath: string;
  setName: string;
  manifest: Manifest;
  rotation: PruneResult;
  recovery: RecoveryReport;
  warnings: string[];
}

/** What the backup reads from: a snapshot (removed at the end) or the source itself. */
interface ReadSession {
  readPath: string;
  journal: ResourceJournal;
  recovery: RecoveryReport;
  snapshot?: SnapshotInfo;
  session?: SnapshotSession;
  signal?: AbortSignal;
  /** Before the set is committed: is what was read trustworthy (the snapshot did not overflow)? */
  check(): Promise<void>;
  close(options: { failed: boolean }): Promise<void>;
}

export async function runBackup(options: BackupOptions): Promise<BackupReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  const progress = options.progress ?? silentProgress;
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    progress.note(`warning: ${message}`);
  };
  const keep = options.keep ?? DEFAULT_KEEP;
  const level = options.level ?? DEFAULT_LEVEL;
  const source = await classifySource(options.source, options.lvm);
  const label = validateLabel(options.label ?? defaultLabel(source));
  if (options.agent && source.kind !== 'lv' && !options.agent.allowUnquiesced) {
    throw new SnapcloneError('USAGE_AGENT_NEEDS_SNAPSHOT', `--agent needs a logical volume to snapshot; ${options.source} is read live, so a freeze could not make it consistent`, {
      kind: 'usage',
      hint: 'back up the LV itself, or add --allow-unquiesced to back up the live source without a freeze',
    });
  }

  let freeze: GuestFreeze | undefined;
  // The agent client (node:crypto, node:net) is loaded only for backups that use it.
  if (options.agent && source.kind === 'lv') freeze = await (await import('./guest-freeze.js')).GuestFreeze.connect({ knownAgentsPath: knownAgentsPath(options.stateDir), ...options.agent, log: (m) => progress.note(m) });
  let read: ReadSession;
  try {
    read = source.kind === 'lv' ? await openLvSession(source, options, progress, freeze) : await openLiveSession(source, options, progress, warn);
  } finally {
    await freeze?.close();
  }
  if (options.agent && source.kind !== 'lv') warn('--agent ignored: no snapshot can be taken of this source, so the guest was not frozen');

  // One compression thread would run on this thread, between the snapshot watcher's polls: while a
  // snapshot is watched, blocks are always compressed by worker threads (at least two).
  const requestedThreads = options.threads ?? availableParallelism();
  const threads = read.session?.watcher ? Math.max(2, requestedThreads) : requestedThreads;
  let disk: SourceFile | undefined;
  let writer: SetWriter | undefined;
  let unregisterClose: (() => void) | undefined;
  let failed = true;
  try {
    disk = await SourceFile.open(read.readPath);
    const opened = disk;
    // On SIGINT/SIGTERM the snapshot can only be removed once nothing holds it open.
    unregisterClose = onShutdown(`close ${read.readPath}`, () => opened.close().catch(() => {}));
    const sectorSize = await logicalSectorSize(read.readPath);
    const plan = await planDiskBackup(disk, { sectorSize, rawPartitions: options.rawPartitions });
    for (const w of plan.warnings) warn(`${w.code}: ${w.message}`);
    progress.note(
      `backing up ${options.source} (${formatBytes(disk.sizeBytes)}, ${plan.label === 'none' ? 'no partition table' : `${plan.label} label`}, ` +
        `${plan.jobs.length} image${plan.jobs.length === 1 ? '' : 's'}) into ${options.destDir}`,
    );
    writer = await SetWriter.create({ destDir: options.destDir, label, startedAt, journal: read.journal });
    const imaged = await imageDisk(disk, plan, writer, {
      level,
      threads,
      force: options.force,
      signal: read.signal,
      progress,
      createdBy: `${options.tool.name} ${options.tool.version}`,
      sourceLabel: options.source,
    });
    await disk.close();
    unregisterClose();
    disk = undefined;
    // An overflow between two polls of the watcher must not pass: check before the set is named.
    await read.check();
    const consistency: Consistency = source.kind !== 'lv' ? 'no-snapshot' : freeze?.quiesced ? 'quiesced' : 'crash-consistent';
    const quiesce = freeze?.record();
    if (consistency === 'crash-consistent' && !options.agent) warn('the guest was not frozen (no --agent): the set is crash-consistent, as after a power cut');
    const totalSeconds = (performance.now() - t0) / 1000;
    const manifest: Omit<Manifest, 'files'> = {
      ...manifestHead(options.tool, label, startedAt),
      source: {
        path: options.source,
        kind: source.kind === 'lv' ? 'lvm-snapshot' : source.kind,
        sizeBytes: plan.diskSizeBytes,
        ...(source.kind === 'lv' ? { vg: source.lv.vg, lv: source.lv.lv } : {}),
        ...(read.snapshot
          ? {
              snapshot: read.snapshot.name,
              snapshotSizeBytes: read.snapshot.sizeBytes,
              ...(read.session?.watcher ? { snapshotMaxFillPercent: read.session.watcher.peakPercent } : {}),
            }
          : {}),
      },
      consistency,
      ...(quiesce ? { quiesce } : {}),
      disk: {
        sizeBytes: plan.diskSizeBytes,
        sectorSize: plan.sectorSize,
        label: plan.label,
        ...(plan.id !== undefined ? { id: plan.id } : {}),
        ...(imaged.layoutFile ? { layoutFile: imaged.layoutFile } : {}),
      },
      partitions: imaged.partitions,
      compression: { format: 'bzip2', level, threads },
      timings: {
        totalSeconds: round3(totalSeconds),
        imagingSeconds: round3(imaged.imagingSeconds),
        ...(quiesce?.frozenMs !== undefined ? { freezeSeconds: round3(quiesce.frozenMs / 1000) } : {}),
      },
      ...(warnings.length > 0 ? { warnings: [...warnings] } : {}),
    };
    const committed = await writer.commit(manifest);
    progress.note(`set ${committed.name} complete: ${formatBytes(committed.manifest.files.reduce((n, f) => n + f.sizeBytes, 0))} (${consistency})`);
    const rotation = await pruneSets(options.destDir, label, keep, { journal: read.journal, log: (m) => progress.note(m) });
    failed = false;
    await read.close({ failed: false });
    return { setPath: committed.path, setName: committed.name, manifest: committed.manifest, rotation, recovery: read.recovery, warnings };
  } catch (e) {
    // A snapshot that overflowed makes its reads fail (EIO): say that, not "I/O error".
    if (read.snapshot && isSnapcloneError(e) && e.kind === 'io') {
      const verdict = await read.check().then(
        () => undefined,
        (v: unknown) => v,
      );
      if (verdict !== undefined) throw verdict;
    }
    throw e;
  } finally {
    if (failed) {
      await writer?.abort().catch(() => {});
      unregisterClose?.();
      await disk?.close().catch(() => {});
      await read.close({ failed: true }).catch((e: unknown) => progress.note(`warning: cleaning up after the failure: ${(e as Error).message}`));
    }
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function openLvSession(
  source: Extract<BackupSource, { kind: 'lv' }>,
  options: BackupOptions,
  progress: Progress,
  freeze: GuestFreeze | undefined,
): Promise<ReadSession> {
  const session = await openSnapshotSession({
    source: source.text,
    stateDir: options.stateDir,
    lvm: options.lvm,
    snapshotSizeBytes: options.snapshotSizeBytes,
    watch: options.watch,
    command: 'backup',
    log: (m) => progress.note(m),
    ...(freeze ? { aroundCreate: (create: () => Promise<SnapshotInfo>) => freeze.around(create) } : {}),
  });
  reportRecovery(session.recovery, progress);
  return {
    readPath: session.snapshot.path,
    journal: session.journal,
    recovery: session.recovery,
    snapshot: session.snapshot,
    session,
    signal: session.signal,
    async check() {
      if (session.signal.aborted) throw session.signal.reason;
      await session.watcher?.stop();
      await session.watcher?.checkNow();
    },
    async close({ failed }) {
      await session.close({ verify: !failed });
    },
  };
}

async function openLiveSession(
  source: Extract<BackupSource, { kind: 'file' | 'block-device' }>,
  options: BackupOptions,
  progress: Progress,
  warn: (m: string) => void,
): Promise<ReadSession> {
  await refuseMountedSource(source.path);
  await ensureStateDir(options.stateDir);
  const recovery = await recoverLeftovers(options.stateDir, { lvm: options.lvm, log: (m) => progress.note(m) });
  reportRecovery(recovery, progress);
  const journal = await ResourceJournal.begin(options.stateDir, 'backup', source.path);
  const unregister = onShutdown(`journal ${journal.path}`, async () => {
    await journal.finish();
  });
  warn(`${source.path} is ${source.kind === 'file' ? 'a file' : 'a block device'}, not a logical volume: no snapshot was taken, it is read live (nothing may write to it meanwhile)`);
  return {
    readPath: source.path,
    journal,
    recovery,
    async check() {},
    async close() {
      unregister();
      await journal.finish();
    },
  };
}

function reportRecovery(recovery: RecoveryReport, progress: Progress): void {
  if (recovery.removedCount > 0) progress.note(`removed ${recovery.removedCount} leftover(s) of interrupted runs (see above)`);
  if (recovery.failedCount > 0) progress.note(`warning: ${recovery.failedCount} leftover(s) of interrupted runs could not be removed; run \`snapclone cleanup\``);
}
