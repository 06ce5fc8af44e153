// What snapclone knows about a disk's partitioning: the label, its partitions numbered as Linux numbers
// them, and the raw sectors (tables and boot area) needed to replay the disk exactly. See README "layout".

import { SnapcloneError, type Warning } from '../core/errors.js';

export type LabelType = 'dos' | 'gpt';

/** primary/extended/logical for dos labels; gpt for GPT entries. */
export type PartitionKind = 'primary' | 'extended' | 'logical' | 'gpt';

export interface Partition {
  /** As Linux, kpartx and sfdisk number it: 1-4 primary, 5.. logical in chain order; GPT entry index + 1. */
  number: number;
  kind: PartitionKind;
  /** First sector, in `sectorSize` units from the start of the disk. */
  startLba: number;
  sectorCount: number;
  sectorSize: number;
  /** As sfdisk writes it: hex without 0x for dos ("83", "7", "5"), the upper-case type GUID for gpt. */
  type: string;
  /** dos: the boot indicator is 0x80. */
  bootable?: boolean;
  /** gpt: the partition name (UTF-16LE on disk). */
  name?: string;
  /** gpt: the unique partition GUID. */
  uuid?: string;
  /** gpt: the attribute bits as sfdisk writes them ("RequiredPartition LegacyBIOSBootable GUID:63"). */
  attrs?: string;
  /** gpt: the whole 64-bit attribute field, 16 hex digits (bits 3-47 have no sfdisk name). */
  attributes?: string;
  /** The sector holding this partition's table entry: 0 for primaries, the EBR for logicals, 0 for gpt. */
  tableLba: number;
  /** Which entry in that table: 0-3 for dos, the entry index for gpt. */
  entryIndex: number;
}

export type RegionRole =
  | 'mbr'
  | 'ebr'
  | 'gpt-primary-header'
  | 'gpt-primary-entries'
  | 'gpt-backup-entries'
  | 'gpt-backup-header'
  | 'boot-area';

/** A run of whole sectors of the disk, kept byte for byte. */
export interface LayoutRegion {
  role: RegionRole;
  lba: number;
  bytes: Uint8Array;
  /** True when snapclone rebuilt this copy from the other GPT copy because it was damaged or missing. */
  synthesized?: boolean;
}

export interface GptInfo {
  firstUsableLba: number;
  lastUsableLba: number;
  entryCount: number;
  entrySize: number;
  /** The protective MBR has entries besides the 0xEE one (a hybrid MBR). */
  hybridMbr: boolean;
  /** Where the backup header is (or should be, when it was missing). */
  backupHeaderLba: number;
}

export interface DiskLayout {
  label: LabelType;
  sectorSize: number;
  diskSizeBytes: number;
  /** sfdisk's label-id: "0x1234abcd" for dos, the disk GUID for gpt. */
  id: string;
  partitions: Partition[];
  warnings: Warning[];
  /** The sectors to write back, in disk order. */
  regions: LayoutRegion[];
  gpt?: GptInfo;
}

export const SECTOR_SIZES: readonly number[] = [512, 1024, 2048, 4096];

export function isSectorSize(n: unknown): n is number {
  return typeof n === 'number' && SECTOR_SIZES.includes(n);
}

/** The last sector a partition covers. */
export function partitionEndLba(p: Pick<Partition, 'startLba' | 'sectorCount'>): number {
  return p.startLba + p.sectorCount - 1;
}

/** Where a partition's bytes are on its disk: [byteOffset, byteOffset + byteLength). */
export function partitionByteRange(p: Pick<Partition, 'startLba' | 'sectorCount' | 'sectorSize'>): {
  byteOffset: number;
  byteLength: number;
} {
  const byteOffset = p.startLba * p.sectorSize;
  const byteLength = p.sectorCount * p.sectorSize;
  if (!Number.isSafeInteger(byteOffset + byteLength)) {
    throw new SnapcloneError('PT_LBA_TOO_LARGE', 'the partition lies beyond what can be addressed', {
      expected: `an end below ${Number.MAX_SAFE_INTEGER} bytes`,
      actual: `start ${p.startLba}, ${p.sectorCount} sectors of ${p.sectorSize} bytes`,
    });
  }
  return { byteOffset, byteLength };
}

/** The data partitions: everything but the extended container of a dos label. */
export function dataPartitions(layout: Pick<DiskLayout, 'partitions'>): Partition[] {
  return layout.partitions.filter((p) => p.kind !== 'extended');
}

/** The partition whose data ends last on the disk (what --grow-last grows), or undefined. */
export function lastDataPartition(layout: Pick<DiskLayout, 'partitions'>): Partition | undefined {
  let last: Partition | undefined;
  for (const p of dataPartitions(layout)) if (!last || partitionEndLba(p) > partitionEndLba(last)) last = p;
  return last;
}
