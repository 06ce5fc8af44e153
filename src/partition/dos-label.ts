// The dos (MBR) label: four primary entries and the EBR chain of the extended partition, numbered as
// Linux numbers them (1-4 primary, 5.. logical in chain order). Each EBR holds one logical partition
// (start relative to the EBR) and one link to the next EBR (start relative to the extended partition).

import { SnapcloneError } from '../core/errors.js';
import {
  BOOT_INDICATOR_ACTIVE,
  decodeMbrSector,
  entryByteOffset,
  hasBootSignature,
  isExtendedType,
  TYPE_EMPTY,
  type MbrEntry,
  type MbrSector,
} from './mbr.js';
import { partitionEndLba, type LayoutRegion, type Partition } from './layout.js';
import { checkOverlaps, checkPastEnd } from './partition-checks.js';
import { hexLba, type ReadContext } from './read-context.js';
import { isAllZero } from '../core/bytes.js';

/**
 * The longest EBR chain followed. Linux stops at 256 partitions per disk and fdisk at 60; a chain longer
 * than this is hostile, not a disk.
 */
export const MAX_EBR_CHAIN = 1024;

export interface EbrRecord {
  lba: number;
  table: MbrSector;
  /** The entry describing the logical partition, if any. */
  dataSlot?: number;
  /** The entry linking to the next EBR, if any. */
  linkSlot?: number;
}

export interface DosLabel {
  mbr: MbrSector;
  partitions: Partition[];
  /** The extended partition whose chain was followed. */
  extended?: Partition;
  ebrs: EbrRecord[];
  regions: LayoutRegion[];
}

/** sfdisk's spelling of a dos type: lower-case hex without 0x. */
export function dosTypeText(type: number): string {
  return type.toString(16);
}

/** Reads the dos label whose first sector (`sectorSize` bytes) is `mbrBytes`. */
export async function readDosLabel(ctx: ReadContext, mbrBytes: Uint8Array): Promise<DosLabel> {
  const mbr = decodeMbrSector(mbrBytes);
  // Linux rejects a sector whose boot indicators are not 0x00 or 0x80: it is a boot sector or data.
  for (const e of mbr.entries) {
    if (e.bootIndicator !== 0 && e.bootIndicator !== BOOT_INDICATOR_ACTIVE) {
      throw new SnapcloneError('PT_NO_TABLE', 'sector 0 is not a partition table: a boot indicator is neither 0x00 nor 0x80', {
        byteOffset: entryByteOffset(e.slot),
        expected: '0x00 or 0x80',
        actual: `0x${e.bootIndicator.toString(16)}`,
        hint: 'the disk may hold a bare file system (no partition table)',
      });
    }
  }
  const partitions: Partition[] = [];
  const regions: LayoutRegion[] = [{ role: 'mbr', lba: 0, bytes: mbrBytes }];
  let extended: Partition | undefined;
  for (const e of mbr.entries) {
    if (e.sectorCount === 0) continue;
    const isContainer = isExtendedType(e.type) && extended === undefined;
    if (isExtendedType(e.type) && !isContainer) {
      ctx.warn('PT_EXTRA_EXTENDED', `primary entry ${e.slot + 1} is a second extended partition; only the first one's logical partitions are read`, entryByteOffset(e.slot));
    }
    if (e.startLba === 0) {
      ctx.warn('PT_PARTITION_OVERLAPS_TABLE', `partition ${e.slot + 1} starts at sector 0, over the MBR`, entryByteOffset(e.slot));
    }
    const p = partitionOf(e, e.slot + 1, isContainer ? 'extended' : 'primary', e.startLba, 0, ctx.sectorSize);
    partitions.push(p);
    if (isContainer) extended = p;
  }
  const ebrs: EbrRecord[] = [];
  if (extended) {
    const logicals = await readEbrChain(ctx, extended, ebrs, regions);
    partitions.push(...logicals);
  }
  checkPastEnd(ctx, partitions);
  checkOverlaps(ctx, partitions);
  return { mbr, partitions, extended, ebrs, regions };
}

function partitionOf(
  e: MbrEntry,
  number: number,
  kind: Partition['kind'],
  startLba: number,
  tableLba: number,
  sectorSize: number,
): Partition {
  const p: Partition = {
    number,
    kind,
    startLba,
    sectorCount: e.sectorCount,
    sectorSize,
    type: dosTypeText(e.type),
    tableLba,
    entryIndex: e.slot,
  };
  if (e.bootIndicator === BOOT_INDICATOR_ACTIVE) p.bootable = true;
  return p;
}

async function readEbrChain(ctx: ReadContext, ext: Partition, ebrs: EbrRecord[], regions: LayoutRegion[]): Promise<Partition[]> {
  const extStart = ext.startLba;
  const extEnd = partitionEndLba(ext);
  const logicals: Partition[] = [];
  const seen = new Set<number>();
  let ebrLba = extStart;
  let number = 5;
  for (;;) {
    if (seen.has(ebrLba)) {
      throw new SnapcloneError('PT_EBR_LOOP', `the EBR chain loops back to the EBR at sector ${hexLba(ebrLba)}`, {
        byteOffset: ctx.byteOffsetOf(ebrs[ebrs.length - 1]?.lba ?? extStart),
        expected: 'each EBR visited once',
        actual: `a link back to sector ${ebrLba} after ${ebrs.length} EBRs`,
      });
    }
    if (seen.size >= MAX_EBR_CHAIN) {
      throw new SnapcloneError('PT_EBR_CHAIN_TOO_LONG', `the EBR chain is longer than ${MAX_EBR_CHAIN} EBRs`, {
        byteOffset: ctx.byteOffsetOf(ebrLba),
        expected: `at most ${MAX_EBR_CHAIN} logical partitions`,
      });
    }
    seen.add(ebrLba);
    const bytes = await ctx.readSectors(ebrLba, 1, `the EBR at sector ${hexLba(ebrLba)}`);
    if (!hasBootSignature(bytes)) {
      // Linux stops the chain here without a word; an all-zero first EBR is just an empty extended partition.
      if (!(ebrs.length === 0 && isAllZero(bytes))) {
        ctx.warn('PT_EBR_BAD_SIGNATURE', `the EBR at sector ${hexLba(ebrLba)} has no 0x55AA signature; the chain ends there`, ctx.byteOffsetOf(ebrLba) + 510);
      }
      break;
    }
    const table = decodeMbrSector(bytes);
    const record: EbrRecord = { lba: ebrLba, table };
    let link: MbrEntry | undefined;
    for (const e of table.entries) {
      if (e.sectorCount === 0) continue;
      const at = ctx.byteOffsetOf(ebrLba) + entryByteOffset(e.slot);
      if (isExtendedType(e.type)) {
        if (link) ctx.warn('PT_EBR_EXTRA_ENTRY', `the EBR at sector ${hexLba(ebrLba)} has a second link entry; it is ignored`, at);
        else link = e;
      } else if (e.type !== TYPE_EMPTY) {
        if (record.dataSlot !== undefined) {
          ctx.warn('PT_EBR_EXTRA_ENTRY', `the EBR at sector ${hexLba(ebrLba)} has a second partition entry; it is ignored`, at);
          continue;
        }
        record.dataSlot = e.slot;
        if (e.startLba === 0) ctx.warn('PT_PARTITION_OVERLAPS_TABLE', `logical partition ${number} starts on its own EBR`, at);
        const p = partitionOf(e, number++, 'logical', ebrLba + e.startLba, ebrLba, ctx.sectorSize);
        if (p.startLba < extStart || partitionEndLba(p) > extEnd) {
          ctx.warn(
            'PT_LOGICAL_OUTSIDE_EXTENDED',
            `logical partition ${p.number} (sectors ${p.startLba}-${partitionEndLba(p)}) is not inside the extended partition (sectors ${extStart}-${extEnd})`,
            at,
          );
        }
        logicals.push(p);
      }
    }
    if (link) record.linkSlot = link.slot;
    ebrs.push(record);
    regions.push({ role: 'ebr', lba: ebrLba, bytes });
    if (!link) break;
    const next = extStart + link.startLba;
    if (next > extEnd) {
      throw new SnapcloneError('PT_EBR_OUTSIDE_EXTENDED', `the EBR at sector ${hexLba(ebrLba)} links to sector ${next}, outside the extended partition`, {
        byteOffset: ctx.byteOffsetOf(ebrLba) + entryByteOffset(link.slot),
        expected: `a link into sectors ${extStart + 1}-${extEnd}`,
        actual: next,
      });
    }
    ebrLba = next;
  }
  return logicals;
}
