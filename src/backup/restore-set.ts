// `snapclone restore SET TARGET`: a backup set back onto a file, a block device or an LV (created on
// request, sized from the set). Everything is checked before the first write (the manifest, every
// file's presence and size, the layout, the target's size and sector size); the target's table
// sectors are cleared first and the partition table written last, so an interrupted or failed
// restore never leaves a disk that looks whole; each file's SHA-256 and bzip2 CRCs are checked as
// it is read, and each restored NTFS volume must parse and show the clusters its image held.
// Spec: issue 5 "restore".

import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isAllZero } from '../core/bytes.js';
import { isSnapcloneError, SnapcloneError } from '../core/errors.js';
import { prefixedProgress, silentProgress, type Progress } from '../core/progress.js';
import { SliceReadAt } from '../core/read-at.js';
import { formatBytes } from '../core/units.js';
import { NtfsVolume } from '../ntfs/volume.js';
import { computeSaveSet } from '../ntfs/cluster-accounting.js';
import { applyLayout, compareLayouts, planApply, readLayout, type ApplyPlan, type DiskLayout } from '../partition/index.js';
import { logicalSectorSize } from '../io/logical-sector-size.js';
import { OffsetRestoreTarget } from '../io/offset-restore-target.js';
import { RestoreDisk } from '../io/restore-disk.js';
import { onShutdown } from '../io/shutdown.js';
import { ioError } from '../io/source-file.js';
import { activateLogicalVolume, createLogicalVolume } from '../lvm/create-lv.js';
import type { Lvm } from '../lvm/lvm.js';
import { parseSourceSpec, resolveSource } from '../lvm/source.js';
import type { Manifest, ManifestPartition } from './manifest.js';
import { restoreImage } from './restore-image.js';
import { loadSetLayout, manifestFile, readCompressedFile } from './set-files.js';
import { checkSetFiles, readManifest } from './set-inventory.js';

/** Raw images are written in blocks of this size; all-zero blocks are skipped on a new (sparse) file. */
const RAW_BLOCK_BYTES = 64 * 1024;

export interface RestoreOptions {
  setPath: string;
  /** A file, a block device, /dev/VG/LV or VG/LV; optional with createLv. */
  target?: string;
  /** VG/LV to create, sized from the set. */
  createLv?: string;
  overwrite?: boolean;
  growLast?: boolean;
  threads?: number;
  lvm: Lvm;
  progress?: Progress;
}

export interface RestoredPartition {
  number: number;
  filesystem: ManifestPartition['filesystem'];
  image: string;
  bytesWritten: number;
  /** NTFS: clusters restored, and the check of the restored volume. */
  clusters?: number;
  check?: string;
}

export interface RestoreReport {
  target: string;
  targetKind: 'file' | 'block-device';
  createdLv?: string;
  diskSizeBytes: number;
  targetSizeBytes: number;
  partitions: RestoredPartition[];
  layout?: { writes: number; exactReplay: boolean; grown?: ApplyPlan['grown'] };
  seconds: number;
}

export async function restoreSet(options: RestoreOptions): Promise<RestoreReport> {
  const t0 = performance.now();
  const progress = options.progress ?? silentProgress;
  const { setPath } = options;
  // 1. The set, before anything else: manifest, files present at their sizes, layout consistent.
  const manifest = await readManifest(setPath);
  await checkSetFiles(setPath, manifest);
  const layout = await loadSetLayout(setPath, manifest);
  const needBytes = manifest.disk.sizeBytes;
  progress.note(
    `set ${setPath}: ${manifest.label}, taken ${manifest.createdAt} (${manifest.consistency}), disk of ${formatBytes(needBytes)}, ` +
      `${manifest.partitions.length} image${manifest.partitions.length === 1 ? '' : 's'}`,
  );

  // 2. The target, refused before any write when too small or of another sector size.
  const opened = await openTarget(options, manifest);
  const { disk } = opened;
  // On SIGINT/SIGTERM: close the target first (a file is removed), so that an LV created for the
  // restore is no longer held open when its own hook removes it.
  const unregisterDisk = onShutdown(`restore target ${disk.path}`, () => disk.abort());
  let failed = true;
  try {
    if (disk.sizeBytes < needBytes) {
      throw new SnapcloneError('SET_TARGET_TOO_SMALL', `${disk.path} is too small for this set: it needs ${needBytes} bytes (${formatBytes(needBytes)})`, {
        kind: 'refused',
        path: disk.path,
        expected: `at least ${needBytes} bytes`,
        actual: `${disk.sizeBytes} bytes`,
        hint: `restore onto a target of at least ${formatBytes(needBytes)} (with --create-lv VG/LV snapclone sizes it); nothing was written`,
      });
    }
    if (disk.kind === 'block-device' && layout) {
      const deviceSectorSize = await logicalSectorSize(disk.path);
      if (deviceSectorSize !== undefined && deviceSectorSize !== layout.sectorSize) {
        throw new SnapcloneError('PT_SECTOR_SIZE_MISMATCH', `the set's disk has ${layout.sectorSize}-byte sectors but ${disk.path} has ${deviceSectorSize}-byte sectors`, {
          kind: 'refused',
          path: disk.path,
          expected: layout.sectorSize,
          actual: deviceSectorSize,
        });
      }
    }
    const applyOptions = { growLast: !!options.growLast, wipeStaleGptBackup: !disk.fresh, targetSizeBytes: disk.sizeBytes };
    const plan = layout ? planApply(layout, disk.sizeBytes, applyOptions) : undefined;
    progress.note(`restoring onto ${disk.path} (${disk.kind === 'file' ? 'new file' : 'block device'}, ${formatBytes(disk.sizeBytes)})`);

    // 3. Clear the old table first: until the new one is written last, the disk does not look whole.
    if (!disk.fresh) await disk.writeAt(new Uint8Array(Math.min(disk.sizeBytes, 34 * (layout?.sectorSize ?? 512))), 0);

    // 4. The images, each at its partition's offset.
    const restored: RestoredPartition[] = [];
    for (const p of manifest.partitions) {
      restored.push(p.filesystem === 'ntfs' ? await restoreNtfs(setPath, manifest, p, disk, options, progress) : await restoreRaw(setPath, manifest, p, disk, options, progress));
    }

    // 5. The partition table, MBR last.
    let layoutReport: RestoreReport['layout'];
    if (layout && plan) {
      const applied = await applyLayout(layout, disk, { ...applyOptions, progress: prefixedProgress(progress, 'partition table') });
      layoutReport = { writes: applied.writes.length, exactReplay: applied.exactReplay, ...(applied.grown ? { grown: applied.grown } : {}) };
      if (applied.grown) progress.note(`partition ${applied.grown.number} grown from ${applied.grown.fromSectors} to ${applied.grown.toSectors} sectors (its file system keeps its size: grow it from the guest or with ntfsresize)`);
    }
    await disk.sync();

    // 6. Checks of what is on the target now.
    if (layout && plan) await checkRestoredLayout(disk, layout, plan);
    await disk.commit();
    failed = false;
    return {
      target: disk.path,
      targetKind: disk.kind,
      ...(opened.createdLv ? { createdLv: opened.createdLv } : {}),
      diskSizeBytes: needBytes,
      targetSizeBytes: disk.sizeBytes,
      partitions: restored,
      ...(layoutReport ? { layout: layoutReport } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    if (failed) {
      await disk.abort().catch(() => {});
      await opened.undoCreate().catch((e: unknown) => progress.note(`warning: could not remove the LV created for the restore: ${(e as Error).message}`));
    }
    unregisterDisk();
    opened.unregister();
  }
}

interface OpenedTarget {
  disk: RestoreDisk;
  createdLv?: string;
  /** Removes the LV this run created (after a failure). */
  undoCreate(): Promise<void>;
  unregister(): void;
}

async function openTarget(options: RestoreOptions, manifest: Manifest): Promise<OpenedTarget> {
  const nothing = { undoCreate: async () => {}, unregister: () => {} };
  if (options.createLv !== undefined) {
    if (options.target !== undefined) {
      throw new SnapcloneError('USAGE_TARGET_AND_CREATE_LV', 'give either TARGET or --create-lv, not both', { kind: 'usage' });
    }
    const spec = parseSourceSpec(options.createLv);
    if (spec.kind !== 'lv') throw new SnapcloneError('USAGE_BAD_LV', `--create-lv ${options.createLv}: give VG/LV`, { kind: 'usage' });
    const info = await createLogicalVolume(options.lvm, { vg: spec.vg, name: spec.lv, sizeBytes: manifest.disk.sizeBytes });
    options.progress?.note(`created logical volume ${spec.vg}/${spec.lv} (${formatBytes(info.sizeBytes)})`);
    let removed = false;
    const undoCreate = async (): Promise<void> => {
      if (removed) return;
      removed = true;
      const now = await options.lvm.findLv(spec.vg, spec.lv);
      if (now && now.uuid === info.uuid) await options.lvm.run('lvremove', ['--force', '--', `${spec.vg}/${spec.lv}`]);
    };
    const unregister = onShutdown(`logical volume ${spec.vg}/${spec.lv} created for the restore`, undoCreate);
    try {
      const disk = await RestoreDisk.openDevice(info.path || `/dev/${spec.vg}/${spec.lv}`);
      return { disk, createdLv: `${spec.vg}/${spec.lv}`, undoCreate, unregister };
    } catch (e) {
      unregister();
      await undoCreate().catch(() => {});
      throw e;
    }
  }
  const target = options.target;
  if (target === undefined) throw new SnapcloneError('USAGE_NO_TARGET', 'give TARGET or --create-lv VG/LV', { kind: 'usage' });
  const kind = await pathKind(target);
  if (kind === 'block-device') {
    refuseWithoutOverwrite(target, options, 'a block device');
    return { disk: await RestoreDisk.openDevice(target), ...nothing };
  }
  if (kind === 'file') {
    if (!options.overwrite) refuseWithoutOverwrite(target, options, 'an existing file');
    return { disk: await RestoreDisk.createFile(target, manifest.disk.sizeBytes, { overwrite: true }), ...nothing };
  }
  if (kind === 'other') throw new SnapcloneError('USAGE_BAD_TARGET', `${target} is not a file, a block device or a logical volume`, { kind: 'usage', path: target });
  // Missing: VG/LV (an LV without a device node: inactive) when its "directory" does not exist, else a new file.
  const spec = (() => {
    try {
      return parseSourceSpec(target);
    } catch {
      return undefined;
    }
  })();
  if (spec?.kind === 'lv' && (await pathKind(dirname(target))) === 'missing') {
    const lv = await resolveSource(target, options.lvm);
    refuseWithoutOverwrite(target, options, 'a logical volume');
    const info = await activateLogicalVolume(options.lvm, lv.vg, lv.lv);
    return { disk: await RestoreDisk.openDevice(info.path || lv.path), ...nothing };
  }
  return { disk: await RestoreDisk.createFile(target, manifest.disk.sizeBytes, { overwrite: false }), ...nothing };
}

function refuseWithoutOverwrite(target: string, options: RestoreOptions, what: string): void {
  if (options.overwrite) return;
  throw new SnapcloneError('OUTPUT_EXISTS', `${target} is ${what}: restoring onto it replaces everything on it`, {
    kind: 'refused',
    path: target,
    hint: 'add --overwrite if you mean it, or restore onto a new LV with --create-lv VG/LV',
  });
}

async function pathKind(path: string): Promise<'missing' | 'file' | 'block-device' | 'other'> {
  try {
    const st = await stat(path);
    return st.isBlockDevice() ? 'block-device' : st.isFile() ? 'file' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw ioError(e, path, 'stat');
  }
}

function partitionName(p: ManifestPartition): string {
  return p.number === 0 ? 'disk' : `partition ${p.number}`;
}

async function restoreNtfs(setPath: string, manifest: Manifest, p: ManifestPartition, disk: RestoreDisk, options: RestoreOptions, progress: Progress): Promise<RestoredPartition> {
  const name = partitionName(p);
  const view = prefixedProgress(progress, `${name} (NTFS)`);
  const target = new OffsetRestoreTarget(disk.handle, disk.path, p.startByte, p.sizeBytes, `${name} of ${disk.path}`);
  const file = manifestFile(manifest, p.image);
  const result = await readCompressedFile(setPath, file, (chunks) => restoreImage(chunks, target, { progress: view, onWarning: (w) => progress.note(`warning: ${p.image}: ${w.message}`) }), {
    threads: options.threads,
    failOnMismatch: true,
    onWarning: (w) => progress.note(`warning: ${p.image}: ${w.message}`),
  });
  const summary = result.value;
  const h = summary.header;
  const n = p.ntfs;
  if (!n || h.cluster_size !== n.clusterSize || h.nr_clusters !== n.nrClusters || h.inuse !== n.inuse) {
    throw new SnapcloneError('SET_IMAGE_MISMATCH', `the image ${p.image} does not describe the volume the manifest records`, {
      kind: 'verify',
      expected: n ? `clusters of ${n.clusterSize}, ${n.nrClusters} clusters, ${n.inuse} in use` : 'an NTFS record in the manifest',
      actual: `clusters of ${h.cluster_size}, ${h.nr_clusters} clusters, ${h.inuse} in use`,
    });
  }
  const check = await checkRestoredNtfs(disk, p, target.writtenClusters);
  progress.note(`${name}: ${summary.clusters} clusters restored from ${p.image}; ${check}`);
  return { number: p.number, filesystem: 'ntfs', image: p.image, bytesWritten: summary.clusters * h.cluster_size, clusters: summary.clusters, check };
}

/** The restored volume must open, and its $Bitmap (minus bad clusters) must be the clusters written. */
async function checkRestoredNtfs(disk: RestoreDisk, p: ManifestPartition, written: Uint8Array): Promise<string> {
  const name = partitionName(p);
  let volume: NtfsVolume;
  try {
    volume = await NtfsVolume.open(new SliceReadAt(disk, p.startByte, p.sizeBytes));
  } catch (e) {
    throw new SnapcloneError('SET_RESTORE_CHECK_FAILED', `the restored ${name} does not open as NTFS (${isSnapcloneError(e) ? e.code : (e as Error).message})`, { kind: 'verify', path: disk.path, cause: e });
  }
  const saveSet = await computeSaveSet(volume, { checkConsistency: false });
  const expectedInuse = p.ntfs?.inuse ?? -1;
  if (saveSet.inuse !== expectedInuse) {
    throw new SnapcloneError('SET_RESTORE_CHECK_FAILED', `the restored ${name} has another number of clusters in use than its image`, {
      kind: 'verify',
      path: disk.path,
      expected: expectedInuse,
      actual: saveSet.inuse,
    });
  }
  const bits = saveSet.bitmap;
  for (let i = 0; i < bits.length; i++) {
    if (bits[i] !== (written[i] ?? 0)) {
      let c = i * 8;
      while (c < i * 8 + 8 && (((bits[i] as number) >> (c & 7)) & 1) === (((written[i] ?? 0) >> (c & 7)) & 1)) c++;
      throw new SnapcloneError('SET_RESTORE_CHECK_FAILED', `the restored ${name}: its $Bitmap and the clusters its image held differ`, {
        kind: 'verify',
        path: disk.path,
        byteOffset: p.startByte + c * volume.clusterSize,
        expected: `cluster ${c} ${(((written[i] ?? 0) >> (c & 7)) & 1) === 1 ? 'in use' : 'free'}`,
        actual: (((bits[i] as number) >> (c & 7)) & 1) === 1 ? 'in use' : 'free',
      });
    }
  }
  return `NTFS opens, ${saveSet.inuse} clusters in use as in the image`;
}

async function restoreRaw(setPath: string, manifest: Manifest, p: ManifestPartition, disk: RestoreDisk, options: RestoreOptions, progress: Progress): Promise<RestoredPartition> {
  const name = partitionName(p);
  const view = prefixedProgress(progress, name);
  const file = manifestFile(manifest, p.image);
  const result = await readCompressedFile(
    setPath,
    file,
    async (chunks) => {
      view.begin('Restoring raw', p.sizeBytes);
      let at = 0;
      const block = new Uint8Array(RAW_BLOCK_BYTES);
      let fill = 0;
      const flush = async (): Promise<void> => {
        const bytes = block.subarray(0, fill);
        // A new file reads zeros where nothing was written: keep it sparse.
        if (!(disk.fresh && isAllZero(bytes))) await disk.writeAt(bytes, p.startByte + at);
        at += fill;
        fill = 0;
        view.update(at);
      };
      for await (const chunk of chunks) {
        for (let i = 0; i < chunk.byteLength; ) {
          if (at + fill >= p.sizeBytes) throw rawSizeError(p, 'more');
          const take = Math.min(chunk.byteLength - i, RAW_BLOCK_BYTES - fill, p.sizeBytes - at - fill);
          block.set(chunk.subarray(i, i + take), fill);
          fill += take;
          i += take;
          if (fill === RAW_BLOCK_BYTES) await flush();
        }
      }
      if (fill > 0) await flush();
      view.end();
      if (at !== p.sizeBytes) throw rawSizeError(p, 'fewer');
      return at;
    },
    { threads: options.threads, failOnMismatch: true, onWarning: (w) => progress.note(`warning: ${p.image}: ${w.message}`) },
  );
  progress.note(`${name}: ${formatBytes(result.value)} restored raw from ${p.image}`);
  return { number: p.number, filesystem: 'raw', image: p.image, bytesWritten: result.value };
}

function rawSizeError(p: ManifestPartition, what: 'more' | 'fewer'): SnapcloneError {
  return new SnapcloneError('SET_IMAGE_MISMATCH', `the raw image ${p.image} holds ${what} bytes than its partition`, {
    kind: 'verify',
    expected: `${p.sizeBytes} bytes`,
  });
}

/** The table now on the target must read back as the one planned. */
async function checkRestoredLayout(disk: RestoreDisk, saved: DiskLayout, plan: ApplyPlan): Promise<void> {
  let reread: DiskLayout;
  try {
    reread = await readLayout(disk, { sectorSize: saved.sectorSize, captureBootArea: false });
  } catch (e) {
    throw new SnapcloneError('SET_RESTORE_CHECK_FAILED', `the partition table written to ${disk.path} does not read back (${isSnapcloneError(e) ? e.code : (e as Error).message})`, {
      kind: 'verify',
      path: disk.path,
      cause: isSnapcloneError(e) ? e : undefined,
    });
  }
  const mismatch = compareLayouts({ label: saved.label, id: saved.id, partitions: plan.partitions }, reread);
  if (mismatch) {
    throw new SnapcloneError('SET_RESTORE_CHECK_FAILED', `the partition table on ${disk.path} is not the one restored: ${mismatch}`, { kind: 'verify', path: disk.path });
  }
}
