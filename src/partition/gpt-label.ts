// The GPT label: protective (or hybrid) MBR, primary header and entries at LBA 1, backup copies at the
// end. Each copy is validated (signature, sizes, CRCs, LBAs); a damaged copy is rebuilt from the other
// with a warning, as libfdisk does. UEFI 2.10 §5.3; sfdisk's reading rules in libfdisk/src/gpt.c.

import { SnapcloneError, isSnapcloneError } from '../core/errors.js';
import { crc32Ieee } from '../core/crc32-ieee.js';
import { decodeGptEntry, gptAttributesText } from './gpt-entry.js';
import {
  computeHeaderCrc,
  decodeGptHeader,
  GPT_HEADER_FIELD_OFFSETS as F,
  GPT_HEADER_MIN_SIZE,
  GPT_PRIMARY_LBA,
  GPT_REVISION_1_0,
  hasGptSignature,
  patchGptHeader,
  type GptHeader,
} from './gpt-header.js';
import { decodeMbrSector, entryByteOffset, MBR_MAX_U32, TYPE_EMPTY, TYPE_GPT_PROTECTIVE } from './mbr.js';
import { partitionEndLba, type GptInfo, type LayoutRegion, type Partition } from './layout.js';
import { checkOverlaps, checkPastEnd } from './partition-checks.js';
import { hexLba, type ReadContext } from './read-context.js';

/** Bounds on what a header may ask us to read: 1 MiB of entries (8192 of 128 bytes; tools make 128). */
export const MAX_GPT_ENTRY_ARRAY_BYTES = 1024 * 1024;
export const MAX_GPT_ENTRY_SIZE = 4096;

export interface GptCopy {
  header: GptHeader;
  headerBytes: Uint8Array;
  entries: Uint8Array;
  entrySectors: number;
}

export interface GptLabel {
  id: string;
  partitions: Partition[];
  regions: LayoutRegion[];
  info: GptInfo;
}

/** Sectors an entry array of `entryCount` x `entrySize` bytes occupies. */
export function entryArraySectors(entryCount: number, entrySize: number, sectorSize: number): number {
  return Math.ceil((entryCount * entrySize) / sectorSize);
}

/** Reads and validates one GPT copy whose header is at `lba`; throws a coded error when it is unusable. */
export async function readGptCopy(ctx: ReadContext, lba: number, which: 'primary' | 'backup'): Promise<GptCopy> {
  const at = ctx.byteOffsetOf(lba);
  const headerBytes = await ctx.readSectors(lba, 1, `the ${which} GPT header at sector ${hexLba(lba)}`);
  if (!hasGptSignature(headerBytes)) {
    throw new SnapcloneError('PT_GPT_BAD_SIGNATURE', `no ${which} GPT header at sector ${hexLba(lba)}`, {
      byteOffset: at,
      expected: '"EFI PART"',
      actual: JSON.stringify(String.fromCharCode(...headerBytes.subarray(0, 8))),
    });
  }
  const header = decodeGptHeader(headerBytes, at);
  if (header.headerSize < GPT_HEADER_MIN_SIZE || header.headerSize > ctx.sectorSize) {
    throw new SnapcloneError('PT_GPT_BAD_HEADER_SIZE', `the ${which} GPT header has an impossible size`, {
      byteOffset: at + F.headerSize,
      expected: `${GPT_HEADER_MIN_SIZE} to ${ctx.sectorSize}`,
      actual: header.headerSize,
    });
  }
  const crc = computeHeaderCrc(headerBytes, header.headerSize);
  if (crc !== header.headerCrc) {
    throw new SnapcloneError('PT_GPT_HEADER_CRC', `the ${which} GPT header's CRC does not match its contents`, {
      kind: 'verify',
      byteOffset: at + F.headerCrc,
      expected: hex32(crc),
      actual: hex32(header.headerCrc),
    });
  }
  if (header.myLba !== lba) {
    throw new SnapcloneError('PT_GPT_MY_LBA', `the ${which} GPT header says it is somewhere else`, {
      byteOffset: at + F.myLba,
      expected: lba,
      actual: header.myLba,
    });
  }
  const { entrySize, entryCount } = header;
  if (entrySize < 128 || entrySize > MAX_GPT_ENTRY_SIZE || (entrySize & (entrySize - 1)) !== 0) {
    throw new SnapcloneError('PT_GPT_BAD_ENTRY_SIZE', `the ${which} GPT header has an impossible partition entry size`, {
      byteOffset: at + F.entrySize,
      expected: `128 x 2^n, at most ${MAX_GPT_ENTRY_SIZE}`,
      actual: entrySize,
    });
  }
  if (entryCount === 0 || entryCount * entrySize > MAX_GPT_ENTRY_ARRAY_BYTES) {
    throw new SnapcloneError('PT_GPT_BAD_ENTRY_COUNT', `the ${which} GPT header has an impossible number of partition entries`, {
      byteOffset: at + F.entryCount,
      expected: `1 to ${MAX_GPT_ENTRY_ARRAY_BYTES / entrySize} entries of ${entrySize} bytes`,
      actual: entryCount,
    });
  }
  const entrySectors = entryArraySectors(entryCount, entrySize, ctx.sectorSize);
  const fu = header.firstUsableLba;
  const lu = header.lastUsableLba;
  const overlapsUsable = (first: number, last: number): boolean => first <= lu && last >= fu;
  if (fu > lu || overlapsUsable(lba, lba)) {
    throw new SnapcloneError('PT_GPT_BAD_USABLE_RANGE', `the ${which} GPT header's usable sectors are impossible`, {
      byteOffset: at + F.firstUsableLba,
      expected: `first <= last, and the header (sector ${lba}) outside them`,
      actual: `first ${fu}, last ${lu}`,
    });
  }
  const entriesEnd = header.entriesLba + entrySectors - 1;
  if (header.entriesLba === 0 || overlapsUsable(header.entriesLba, entriesEnd) || (header.entriesLba <= lba && lba <= entriesEnd)) {
    throw new SnapcloneError('PT_GPT_BAD_ENTRIES_LBA', `the ${which} GPT entry array overlaps the header or the usable sectors`, {
      byteOffset: at + F.entriesLba,
      expected: `an array of ${entrySectors} sectors outside sectors ${fu}-${lu} and off sector ${lba}`,
      actual: `sectors ${header.entriesLba}-${entriesEnd}`,
    });
  }
  const entries = await ctx.readSectors(header.entriesLba, entrySectors, `the ${which} GPT entry array`);
  const entryBytes = entries.subarray(0, entryCount * entrySize);
  const entriesCrc = crc32Ieee(entryBytes);
  if (entriesCrc !== header.entriesCrc) {
    throw new SnapcloneError('PT_GPT_ENTRIES_CRC', `the ${which} GPT partition entries' CRC does not match`, {
      kind: 'verify',
      byteOffset: at + F.entriesCrc,
      expected: hex32(entriesCrc),
      actual: hex32(header.entriesCrc),
    });
  }
  return { header, headerBytes, entries, entrySectors };
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function describe(e: unknown): string {
  return isSnapcloneError(e) ? `${e.code}: ${e.message}` : String(e);
}

/** Reads the GPT label of a disk whose first sector `pmbrBytes` holds a 0xEE entry. */
export async function readGptLabel(ctx: ReadContext, pmbrBytes: Uint8Array): Promise<GptLabel> {
  const hybridMbr = checkProtectiveMbr(ctx, pmbrBytes);
  let primary: GptCopy | undefined;
  let backup: GptCopy | undefined;
  let primaryError: unknown;
  let backupSynthesized = false;
  let primarySynthesized = false;
  try {
    primary = await readGptCopy(ctx, GPT_PRIMARY_LBA, 'primary');
  } catch (e) {
    if (!isSnapcloneError(e)) throw e;
    primaryError = e;
  }

  if (primary) {
    let alt = primary.header.alternateLba;
    if (alt <= primary.header.lastUsableLba) {
      // A backup inside (or before) the usable area would be read over the primary or a partition.
      ctx.warn('PT_GPT_BAD_ALTERNATE_LBA', `the primary GPT header puts its backup at sector ${alt}, inside the disk's usable sectors; the last sector is used instead`, ctx.byteOffsetOf(GPT_PRIMARY_LBA) + F.alternateLba);
      alt = ctx.lastLba;
    }
    if (alt > ctx.lastLba) {
      ctx.warn(
        'PT_GPT_BACKUP_MISSING',
        `the backup GPT header should be at sector ${alt} but the disk ends at sector ${ctx.lastLba}: the disk is shorter than its GPT says`,
        ctx.byteOffsetOf(GPT_PRIMARY_LBA) + F.alternateLba,
      );
    } else {
      if (alt !== ctx.lastLba) {
        ctx.warn('PT_GPT_BACKUP_NOT_AT_END', `the backup GPT header is at sector ${alt}, not at the last sector (${ctx.lastLba})`, ctx.byteOffsetOf(GPT_PRIMARY_LBA) + F.alternateLba);
      }
      try {
        backup = await readGptCopy(ctx, alt, 'backup');
      } catch (e) {
        if (!isSnapcloneError(e)) throw e;
        ctx.warn('PT_GPT_BACKUP_BAD', `the backup GPT is damaged (${describe(e)}); it is rebuilt from the primary`, ctx.byteOffsetOf(alt));
        backup = rebuildCopy(ctx, primary, alt, 'backup');
        backupSynthesized = true;
      }
    }
  } else {
    try {
      backup = await readGptCopy(ctx, ctx.lastLba, 'backup');
    } catch (e) {
      if (!isSnapcloneError(e)) throw e;
      const p = primaryError as SnapcloneError;
      throw new SnapcloneError(p.code, `${stripDetails(p.message)}; the backup GPT at the last sector is unusable too (${describe(e)})`, {
        kind: p.kind,
        byteOffset: p.byteOffset,
        expected: p.expected,
        actual: p.actual,
        hint: 'neither GPT copy can be trusted; no layout can be read from this disk',
        cause: p,
      });
    }
    ctx.warn('PT_GPT_PRIMARY_BAD', `the primary GPT is damaged (${describe(primaryError)}); the backup is used and the primary rebuilt from it`, ctx.byteOffsetOf(GPT_PRIMARY_LBA));
    primary = rebuildCopy(ctx, backup, GPT_PRIMARY_LBA, 'primary');
    primarySynthesized = true;
  }

  if (primary && backup && !primarySynthesized && !backupSynthesized) compareCopies(ctx, primary, backup);
  const good = primary;
  const h = good.header;
  if (h.revision !== GPT_REVISION_1_0) {
    ctx.warn('PT_GPT_REVISION', `the GPT header revision is 0x${h.revision.toString(16)}, not 1.0`, ctx.byteOffsetOf(GPT_PRIMARY_LBA) + F.revision);
  }
  const partitions = decodePartitions(ctx, good);
  checkPastEnd(ctx, partitions);
  checkOverlaps(ctx, partitions);

  const regions: LayoutRegion[] = [
    { role: 'mbr', lba: 0, bytes: pmbrBytes },
    region('gpt-primary-header', GPT_PRIMARY_LBA, good.headerBytes, primarySynthesized),
    region('gpt-primary-entries', h.entriesLba, good.entries, primarySynthesized),
  ];
  if (backup) {
    regions.push(region('gpt-backup-entries', backup.header.entriesLba, backup.entries, backupSynthesized));
    regions.push(region('gpt-backup-header', backup.header.myLba, backup.headerBytes, backupSynthesized));
  }
  return {
    id: h.diskGuid,
    partitions,
    regions,
    info: {
      firstUsableLba: h.firstUsableLba,
      lastUsableLba: h.lastUsableLba,
      entryCount: h.entryCount,
      entrySize: h.entrySize,
      hybridMbr,
      backupHeaderLba: backup ? backup.header.myLba : h.alternateLba,
    },
  };
}

function region(role: LayoutRegion['role'], lba: number, bytes: Uint8Array, synthesized: boolean): LayoutRegion {
  return synthesized ? { role, lba, bytes, synthesized } : { role, lba, bytes };
}

function stripDetails(message: string): string {
  const i = message.lastIndexOf(' [');
  return i < 0 ? message : message.slice(0, i);
}

/** Builds the other copy of `from` at `lba` (what libfdisk and gdisk do to repair a GPT). */
function rebuildCopy(ctx: ReadContext, from: GptCopy, lba: number, which: 'primary' | 'backup'): GptCopy {
  const h = from.header;
  const entriesLba = which === 'primary' ? GPT_PRIMARY_LBA + 1 : lba - from.entrySectors;
  const entriesEnd = entriesLba + from.entrySectors - 1;
  const clash = which === 'primary' ? entriesEnd >= h.firstUsableLba : entriesLba <= h.lastUsableLba;
  if (clash) {
    throw new SnapcloneError('PT_GPT_CANNOT_REPAIR', `the ${which} GPT cannot be rebuilt: its entry array would overlap the usable sectors`, {
      byteOffset: ctx.byteOffsetOf(lba),
      expected: `room for ${from.entrySectors} sectors of entries outside sectors ${h.firstUsableLba}-${h.lastUsableLba}`,
      actual: `sectors ${entriesLba}-${entriesEnd}`,
    });
  }
  const headerBytes = patchGptHeader(from.headerBytes, { myLba: lba, alternateLba: h.myLba, entriesLba });
  return {
    header: { ...h, myLba: lba, alternateLba: h.myLba, entriesLba, headerCrc: computeHeaderCrc(headerBytes, h.headerSize) },
    headerBytes,
    entries: from.entries.slice(),
    entrySectors: from.entrySectors,
  };
}

function compareCopies(ctx: ReadContext, primary: GptCopy, backup: GptCopy): void {
  const p = primary.header;
  const b = backup.header;
  const diffs: string[] = [];
  if (p.diskGuid !== b.diskGuid) diffs.push(`disk GUID ${p.diskGuid} vs ${b.diskGuid}`);
  if (p.firstUsableLba !== b.firstUsableLba || p.lastUsableLba !== b.lastUsableLba) diffs.push('usable sectors');
  if (p.entryCount !== b.entryCount || p.entrySize !== b.entrySize) diffs.push('entry count or size');
  if (p.entriesCrc !== b.entriesCrc) diffs.push('partition entries');
  if (b.alternateLba !== GPT_PRIMARY_LBA) diffs.push(`backup's AlternateLBA ${b.alternateLba}`);
  if (diffs.length > 0) {
    ctx.warn('PT_GPT_COPIES_DIFFER', `the primary and backup GPT differ (${diffs.join(', ')}); the primary is used`, ctx.byteOffsetOf(b.myLba));
  }
}

function decodePartitions(ctx: ReadContext, copy: GptCopy): Partition[] {
  const h = copy.header;
  const arrayAt = ctx.byteOffsetOf(h.entriesLba);
  const partitions: Partition[] = [];
  for (let i = 0; i < h.entryCount; i++) {
    const e = decodeGptEntry(copy.entries, i, h.entrySize, arrayAt);
    if (!e.used) continue;
    if (e.startingLba > e.endingLba) {
      throw new SnapcloneError('PT_GPT_ENTRY_BAD_RANGE', `GPT partition ${i + 1} ends before it starts`, {
        byteOffset: arrayAt + i * h.entrySize,
        expected: 'StartingLBA <= EndingLBA',
        actual: `${e.startingLba} > ${e.endingLba}`,
      });
    }
    const p: Partition = {
      number: i + 1,
      kind: 'gpt',
      startLba: e.startingLba,
      sectorCount: e.endingLba - e.startingLba + 1,
      sectorSize: ctx.sectorSize,
      type: e.typeGuid,
      uuid: e.uniqueGuid,
      name: e.name,
      tableLba: 0,
      entryIndex: i,
    };
    if (e.attributes !== 0n) {
      p.attributes = e.attributes.toString(16).padStart(16, '0');
      const text = gptAttributesText(e.attributes);
      if (text) p.attrs = text;
    }
    if (p.startLba < h.firstUsableLba || partitionEndLba(p) > h.lastUsableLba) {
      ctx.warn(
        'PT_PARTITION_OUTSIDE_USABLE',
        `GPT partition ${p.number} (sectors ${p.startLba}-${partitionEndLba(p)}) is not inside the usable sectors ${h.firstUsableLba}-${h.lastUsableLba}`,
        arrayAt + i * h.entrySize,
      );
    }
    partitions.push(p);
  }
  return partitions;
}

/** Checks the protective MBR; returns true for a hybrid MBR (other entries beside the 0xEE one). */
function checkProtectiveMbr(ctx: ReadContext, pmbrBytes: Uint8Array): boolean {
  const mbr = decodeMbrSector(pmbrBytes);
  const hybrid = mbr.entries.some((e) => e.type !== TYPE_EMPTY && e.type !== TYPE_GPT_PROTECTIVE);
  for (const e of mbr.entries) {
    const at = entryByteOffset(e.slot);
    if (e.type === TYPE_GPT_PROTECTIVE) {
      if (e.startLba !== GPT_PRIMARY_LBA) {
        ctx.warn('PT_GPT_PMBR_START', `the protective MBR entry starts at sector ${e.startLba}, not 1`, at);
      }
      const whole = Math.min(ctx.diskSectors - 1, MBR_MAX_U32);
      // Hybrid MBRs need not cover the disk (libfdisk checks protective ones only).
      if (e.sectorCount !== whole && e.sectorCount !== MBR_MAX_U32 && !hybrid) {
        ctx.warn('PT_GPT_PMBR_SIZE', `the protective MBR entry covers ${e.sectorCount} sectors, not the disk's ${whole}`, at);
      }
    }
  }
  if (hybrid) {
    const listed = mbr.entries
      .filter((e) => e.type !== TYPE_EMPTY && e.type !== TYPE_GPT_PROTECTIVE)
      .map((e) => `entry ${e.slot + 1} type ${e.type.toString(16)} sectors ${e.startLba}+${e.sectorCount}`);
    ctx.warn('PT_GPT_HYBRID_MBR', `the disk has a hybrid MBR (${listed.join('; ')}); it is kept as it is`, entryByteOffset(0));
  }
  return hybrid;
}
