// What a backup of one disk (an LV, a disk image file, a block device) consists of: its saved layout
// (MBR, EBRs, GPT copies, boot area) and one image per data partition: an ntfsclone image for NTFS,
// the raw bytes otherwise; a disk without a partition table whose sector 0 is NTFS is one whole-disk
// ntfsclone image. Partitions are read by offset through the layout code, never through kpartx.
// Spec: issue 5 "The set"; README "layout".

import { SnapcloneError, type Warning } from '../core/errors.js';
import type { ReadAt } from '../core/read-at.js';
import { dataPartitions, partitionByteRange, readLayout, type DiskLayout } from '../partition/index.js';

export type ImageFilesystem = 'ntfs' | 'raw';

export interface ImageJob {
  /** The partition number as Linux numbers it; 0 for a whole disk without a partition table. */
  number: number;
  startByte: number;
  sizeBytes: number;
  /** As sfdisk writes it ("7", a GPT type GUID); "" without a table. */
  type: string;
  filesystem: ImageFilesystem;
  /** The image's name in the set. */
  fileName: string;
  /** Saved raw because --raw asked for it. */
  forcedRaw?: boolean;
}

export interface DiskPlan {
  label: 'dos' | 'gpt' | 'none';
  /** Present when the disk has a partition table. */
  layout?: DiskLayout;
  sectorSize: number;
  diskSizeBytes: number;
  id?: string;
  jobs: ImageJob[];
  warnings: Warning[];
}

export const LAYOUT_FILE = 'layout.json';
const NTFS_OEM_OFFSET = 3;
const NTFS_OEM = 'NTFS    ';

/** The image file name for partition `number` (0: the whole disk). */
export function imageFileName(number: number, filesystem: ImageFilesystem): string {
  const base = number === 0 ? 'disk' : `p${number}`;
  return filesystem === 'ntfs' ? `${base}.ntfsclone.img.bz2` : `${base}.img.bz2`;
}

/** True when `bytes` (a partition's first sector) carries NTFS's OEM id. */
export function hasNtfsSignature(bytes: Uint8Array): boolean {
  if (bytes.byteLength < NTFS_OEM_OFFSET + NTFS_OEM.length) return false;
  for (let i = 0; i < NTFS_OEM.length; i++) if (bytes[NTFS_OEM_OFFSET + i] !== NTFS_OEM.charCodeAt(i)) return false;
  return true;
}

export interface PlanOptions {
  /** The device's logical sector size (dos labels do not record it); default 512 for files. */
  sectorSize?: number;
  /** Partition numbers to save raw even if they hold NTFS (--raw). */
  rawPartitions?: readonly number[];
}

/** Reads the layout of `disk` and decides how each partition is saved. Reads only a few sectors. */
export async function planDiskBackup(disk: ReadAt, options: PlanOptions = {}): Promise<DiskPlan> {
  const raw = new Set(options.rawPartitions ?? []);
  const wholeDisk = (filesystem: ImageFilesystem, forcedRaw = false): DiskPlan => ({
    label: 'none',
    sectorSize: options.sectorSize ?? 512,
    diskSizeBytes: disk.sizeBytes,
    jobs: [{ number: 0, startByte: 0, sizeBytes: disk.sizeBytes, type: '', filesystem, fileName: imageFileName(0, filesystem), ...(forcedRaw ? { forcedRaw } : {}) }],
    warnings: [],
  });
  // An NTFS boot sector also ends in 55 AA and may parse as an empty dos label; an MBR holds boot
  // code where NTFS has its OEM id. So NTFS in sector 0 means a volume without a partition table.
  if (await startsWithNtfs(disk, 0)) return raw.has(0) ? wholeDisk('raw', true) : wholeDisk('ntfs');
  let layout: DiskLayout;
  try {
    layout = await readLayout(disk, { sectorSize: options.sectorSize });
  } catch (e) {
    if (!(e instanceof SnapcloneError) || e.code !== 'PT_NO_TABLE') throw e;
    return wholeDisk('raw');
  }
  for (const n of raw) {
    if (n !== 0 && !layout.partitions.some((p) => p.number === n)) {
      throw new SnapcloneError('USAGE_NO_SUCH_PARTITION', `--raw ${n}: the disk has no partition ${n}`, {
        kind: 'usage',
        expected: layout.partitions.map((p) => p.number).join(', ') || 'no partitions',
      });
    }
  }
  const jobs: ImageJob[] = [];
  for (const p of dataPartitions(layout)) {
    if (p.sectorCount === 0) continue;
    const { byteOffset, byteLength } = partitionByteRange(p);
    if (byteOffset + byteLength > disk.sizeBytes) {
      throw new SnapcloneError('PT_PARTITION_PAST_END', `partition ${p.number} ends past the end of the disk: it cannot be saved whole`, {
        byteOffset: disk.sizeBytes,
        expected: `a disk of at least ${byteOffset + byteLength} bytes`,
        actual: `${disk.sizeBytes} bytes`,
      });
    }
    const filesystem: ImageFilesystem = !raw.has(p.number) && (await startsWithNtfs(disk, byteOffset)) ? 'ntfs' : 'raw';
    jobs.push({
      number: p.number,
      startByte: byteOffset,
      sizeBytes: byteLength,
      type: p.type,
      filesystem,
      fileName: imageFileName(p.number, filesystem),
      ...(raw.has(p.number) ? { forcedRaw: true } : {}),
    });
  }
  return {
    label: layout.label,
    layout,
    sectorSize: layout.sectorSize,
    diskSizeBytes: disk.sizeBytes,
    id: layout.id,
    jobs,
    warnings: layout.warnings,
  };
}

async function startsWithNtfs(disk: ReadAt, byteOffset: number): Promise<boolean> {
  const sector = new Uint8Array(512);
  const n = await disk.readAt(sector, byteOffset);
  return n === sector.byteLength && hasNtfsSignature(sector);
}
