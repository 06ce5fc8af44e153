// snapclone's LVM snapshots: creating them with a name and tags that say whose they are, reading their
// fill and validity, listing leftovers by tag, and removing them (partition maps first, retrying while
// busy). Spec: prompts "The LVM layer"; anchors.md §4 items 1, 3, 4, 5; lvcreate(8), lvremove(8).

import { SnapcloneError } from '../core/errors.js';
import { formatBytes } from '../core/units.js';
import { DEFAULT_RETRY_DELAYS_MS, removeMappingsOf, sleep } from './dm-mappings.js';
import { originTag, parseOriginTag, SNAPCLONE_TAG, snapshotName } from './lvm-names.js';
import type { LvInfo } from './lvm-report.js';
import type { Lvm } from './lvm.js';
import { ToolError } from './run-tool.js';

export interface SnapshotInfo {
  vg: string;
  name: string;
  /** The origin LV's name (same VG). */
  origin: string | undefined;
  /** The origin named by the snapclone-origin tag, when present. */
  taggedOrigin: { vg: string; lv: string } | undefined;
  /** /dev/VG/NAME */
  path: string;
  sizeBytes: number;
  tags: string[];
  uuid: string;
  /** Copy-on-write fill, 0..100; undefined while inactive. */
  fillPercent: number | undefined;
  /** The snapshot overflowed: its contents are lost. */
  invalid: boolean;
  isOpen: boolean;
  createdAt: string;
  info: LvInfo;
}

export function snapshotInfo(lv: LvInfo): SnapshotInfo {
  const tagged = lv.tags.map(parseOriginTag).find((t) => t !== undefined);
  return {
    vg: lv.vgName,
    name: lv.name,
    origin: lv.origin,
    taggedOrigin: tagged,
    path: lv.path || `/dev/${lv.vgName}/${lv.name}`,
    sizeBytes: lv.sizeBytes,
    tags: lv.tags,
    uuid: lv.uuid,
    fillPercent: lv.snapPercent,
    invalid: lv.isInvalidSnapshot,
    isOpen: lv.isOpen,
    createdAt: lv.createdAt,
    info: lv,
  };
}

/** True for LVs that snapclone made: a snapshot carrying the snapclone tag. */
export function isSnapcloneSnapshot(lv: LvInfo): boolean {
  return lv.isSnapshot && lv.tags.includes(SNAPCLONE_TAG);
}

export interface CreateSnapshotOptions {
  sizeBytes: number;
  /** Default: snapshotName(vg, lv, now). */
  name?: string;
  date?: Date;
}

/** The name a snapshot of vg/lv created now would get (journals record it before creating it). */
export function newSnapshotName(vg: string, lv: string, date: Date = new Date()): string {
  return snapshotName(vg, lv, date);
}

/**
 * `lvcreate -s -n NAME -L SIZE --addtag snapclone --addtag snapclone-origin-VG-LV VG/LV`, then
 * activates the snapshot if LVM left it inactive, and returns it as LVM reports it.
 */
export async function createSnapshot(lvm: Lvm, vg: string, lv: string, options: CreateSnapshotOptions): Promise<SnapshotInfo> {
  const name = options.name ?? snapshotName(vg, lv, options.date ?? new Date());
  if (!Number.isSafeInteger(options.sizeBytes) || options.sizeBytes <= 0 || options.sizeBytes % 512 !== 0) {
    throw new SnapcloneError('LVM_BAD_SIZE', `a snapshot size must be a positive multiple of 512 bytes`, {
      kind: 'internal',
      actual: options.sizeBytes,
    });
  }
  try {
    await lvm.run('lvcreate', [
      '--snapshot',
      '--name',
      name,
      '--size',
      `${options.sizeBytes / 512}s`,
      '--addtag',
      SNAPCLONE_TAG,
      '--addtag',
      originTag(vg, lv),
      '--',
      `${vg}/${lv}`,
    ]);
  } catch (e) {
    if (e instanceof ToolError && /insufficient free space/i.test(e.stderr)) {
      throw new SnapcloneError('LVM_NO_SPACE', `volume group ${vg} has no room for a ${formatBytes(options.sizeBytes)} snapshot: ${e.message}`, {
        kind: 'refused',
        hint: 'free space in the VG, or give a smaller --snapshot-size',
        cause: e,
      });
    }
    throw e;
  }
  let info = await lvm.findLv(vg, name);
  if (info && !info.isActive) {
    // The snapshot of an inactive origin is created inactive; activating the origin activates its
    // snapshots with it (activating the snapshot alone would ask to change the origin too).
    await lvm.run('lvchange', ['--activate', 'y', '--', `${vg}/${lv}`]);
    info = await lvm.findLv(vg, name);
  }
  if (!info || !info.isSnapshot || !info.isActive) {
    throw new SnapcloneError('LVM_SNAPSHOT_MISSING', `lvcreate reported success but ${vg}/${name} is not an active snapshot`, {
      kind: 'external',
    });
  }
  return snapshotInfo(info);
}

/** Every snapshot that carries the snapclone tag, in every VG. */
export async function listSnapcloneSnapshots(lvm: Lvm): Promise<SnapshotInfo[]> {
  return (await lvm.listLvs([`@${SNAPCLONE_TAG}`])).filter(isSnapcloneSnapshot).map(snapshotInfo);
}

export interface SnapshotState {
  exists: boolean;
  fillPercent: number | undefined;
  invalid: boolean;
}

/** The snapshot's fill and validity now (`lvs -o snap_percent,lv_attr`). */
export async function readSnapshotState(lvm: Lvm, vg: string, name: string): Promise<SnapshotState> {
  const lv = await lvm.findLv(vg, name);
  if (!lv) return { exists: false, fillPercent: undefined, invalid: false };
  return { exists: true, fillPercent: lv.snapPercent, invalid: lv.isInvalidSnapshot };
}

export interface RemoveSnapshotOptions {
  /** When known (from a journal), refuse to remove an LV with another UUID under the same name. */
  expectedUuid?: string;
  retryDelaysMs?: readonly number[];
}

export interface RemoveSnapshotResult {
  /** False when the snapshot did not exist any more. */
  removed: boolean;
  /** Partition maps removed first. */
  mappingsRemoved: string[];
}

/**
 * Removes snapclone snapshot VG/NAME: first any partition maps stacked on it, then `lvremove -f`,
 * retried while the LV is busy. Refuses (LVM_NOT_SNAPCLONE_SNAPSHOT) to remove anything that is not
 * a snapshot with the snapclone tag. Throws LVM_SNAPSHOT_BUSY if it stays in use.
 */
export async function removeSnapshot(lvm: Lvm, vg: string, name: string, options: RemoveSnapshotOptions = {}): Promise<RemoveSnapshotResult> {
  const lv = await lvm.findLv(vg, name);
  if (!lv) return { removed: false, mappingsRemoved: [] };
  if (!isSnapcloneSnapshot(lv) || (options.expectedUuid !== undefined && lv.uuid !== options.expectedUuid)) {
    throw new SnapcloneError('LVM_NOT_SNAPCLONE_SNAPSHOT', `${vg}/${name} is not the snapclone snapshot expected; it is left alone`, {
      kind: 'refused',
      expected: options.expectedUuid ? `a snapshot tagged "${SNAPCLONE_TAG}" with UUID ${options.expectedUuid}` : `a snapshot tagged "${SNAPCLONE_TAG}"`,
      actual: `${lv.isSnapshot ? 'a snapshot' : 'an LV'} with UUID ${lv.uuid}, tags [${lv.tags.join(',')}]`,
    });
  }
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  // Only an open LV can have maps stacked on it: skip the dmsetup call otherwise.
  const mappingsRemoved = lv.isOpen ? await removeMappingsOf(lvm, lv) : [];
  for (let attempt = 0; ; attempt++) {
    try {
      await lvm.run('lvremove', ['--force', '--', `${vg}/${name}`]);
      return { removed: true, mappingsRemoved };
    } catch (e) {
      if (!(e instanceof ToolError)) throw e;
      if (/not found|Failed to find/i.test(e.stderr)) return { removed: false, mappingsRemoved };
      if (!/in use|used by another device|open logical volume|busy/i.test(e.stderr)) throw e;
      const delay = delays[attempt];
      if (delay === undefined) {
        throw new SnapcloneError('LVM_SNAPSHOT_BUSY', `snapshot ${vg}/${name} stays in use and cannot be removed: ${e.message}`, {
          kind: 'external',
          hint: `find what holds /dev/${vg}/${name} open (\`findmnt\`, \`fuser -vm /dev/${vg}/${name}\`, \`dmsetup ls --tree\`), stop it, then run \`snapclone cleanup\``,
          cause: e,
        });
      }
      await sleep(delay);
      // Something may have mapped it meanwhile (a udev rule running kpartx).
      mappingsRemoved.push(...(await removeMappingsOf(lvm, lv)));
    }
  }
}
