// planApply(): the exact sector writes that put a saved layout on a target of a given size, or a refusal
// before anything is written. Same size: every saved sector as saved. Other sizes (or --grow-last): the
// GPT backup moves to the new end with new LastUsableLBA and CRCs, the protective MBR follows, and the
// last partition (with its extended container and EBR links for a logical one) can be grown.

import { SnapcloneError } from '../core/errors.js';
import { crc32Ieee } from '../core/crc32-ieee.js';
import { formatBytes } from '../core/units.js';
import { setGptEntryEndingLba } from './gpt-entry.js';
import { decodeGptHeader, patchGptHeader } from './gpt-header.js';
import { entryArraySectors } from './gpt-label.js';
import {
  lastDataPartition,
  partitionEndLba,
  type DiskLayout,
  type LayoutRegion,
  type Partition,
  type RegionRole,
} from './layout.js';
import { chsFromLba, decodeMbrSector, encodeMbrEntry, MBR_MAX_U32, TYPE_GPT_PROTECTIVE, type MbrEntry } from './mbr.js';

export interface ApplyOptions {
  /** Extend the last partition to the end of the target (dos: last sector; gpt: last usable sector). */
  growLast?: boolean;
  /**
   * Zero the target's last sector when it lies outside every partition of a dos layout, so that a GPT
   * backup header left there by an earlier table cannot be found again. For targets that held data.
   */
  wipeStaleGptBackup?: boolean;
}

export interface PlannedWrite {
  /** What the sectors are, for progress and logs: "mbr", "ebr", "gpt-backup-header", ... */
  what: RegionRole | 'stale-gpt-wipe';
  byteOffset: number;
  bytes: Uint8Array;
}

export interface ApplyPlan {
  label: DiskLayout['label'];
  sectorSize: number;
  targetSizeBytes: number;
  /** The smallest target the layout fits on (with --grow-last, before growing). */
  requiredBytes: number;
  /** Every saved sector is written as saved, at its saved place. */
  exactReplay: boolean;
  /** In the order to write them: boot area, then tables, the MBR last (and the GPT backup before the primary). */
  writes: PlannedWrite[];
  /** The partitions as the target will hold them. */
  partitions: Partition[];
  grown?: { number: number; fromSectors: number; toSectors: number };
  totalBytes: number;
}

const WRITE_ORDER: Record<PlannedWrite['what'], number> = {
  'boot-area': 0,
  'stale-gpt-wipe': 1,
  ebr: 2,
  'gpt-backup-entries': 3,
  'gpt-backup-header': 4,
  'gpt-primary-entries': 5,
  'gpt-primary-header': 6,
  mbr: 7,
};

/** Plans the writes; throws PT_TARGET_TOO_SMALL (kind 'refused') when the target cannot hold the layout. */
export function planApply(layout: DiskLayout, targetSizeBytes: number, options: ApplyOptions = {}): ApplyPlan {
  const ss = layout.sectorSize;
  const targetSectors = Math.floor(targetSizeBytes / ss);
  const requiredSectors = requiredSectorsOf(layout);
  if (targetSectors < requiredSectors) {
    const requiredBytes = requiredSectors * ss;
    throw new SnapcloneError('PT_TARGET_TOO_SMALL', `the target is too small for this layout: it needs ${requiredBytes} bytes (${formatBytes(requiredBytes)})`, {
      kind: 'refused',
      expected: `at least ${requiredBytes} bytes`,
      actual: `${targetSizeBytes} bytes`,
      hint: `use a target of at least ${formatBytes(requiredBytes)} (${requiredSectors} sectors of ${ss} bytes); nothing was written`,
    });
  }
  const plan = layout.label === 'dos' ? planDos(layout, targetSectors, options) : planGpt(layout, targetSectors, options);
  plan.writes.sort((a, b) => WRITE_ORDER[a.what] - WRITE_ORDER[b.what] || a.byteOffset - b.byteOffset);
  return {
    ...plan,
    label: layout.label,
    sectorSize: ss,
    targetSizeBytes,
    requiredBytes: requiredSectors * ss,
    totalBytes: plan.writes.reduce((n, w) => n + w.bytes.byteLength, 0),
  };
}

type PartialPlan = Pick<ApplyPlan, 'exactReplay' | 'writes' | 'partitions' | 'grown'>;

/** Sectors the target needs: every partition, every saved table sector; for gpt, room for the backup. */
export function requiredSectorsOf(layout: DiskLayout): number {
  let maxEnd = -1;
  for (const p of layout.partitions) if (p.sectorCount > 0) maxEnd = Math.max(maxEnd, partitionEndLba(p));
  for (const r of layout.regions) {
    if (r.role === 'gpt-backup-entries' || r.role === 'gpt-backup-header') continue; // these move
    maxEnd = Math.max(maxEnd, r.lba + r.bytes.byteLength / layout.sectorSize - 1);
  }
  if (layout.label === 'dos' || !layout.gpt) return maxEnd + 1;
  const entrySectors = entryArraySectors(layout.gpt.entryCount, layout.gpt.entrySize, layout.sectorSize);
  // LastUsableLBA must reach the last partition (and not fall before FirstUsableLBA); then entries, header.
  return Math.max(maxEnd, layout.gpt.firstUsableLba) + entrySectors + 2;
}

function regionsOf(layout: DiskLayout, role: RegionRole): LayoutRegion[] {
  return layout.regions.filter((r) => r.role === role);
}

function write(layout: DiskLayout, r: LayoutRegion, bytes = r.bytes): PlannedWrite {
  return { what: r.role, byteOffset: r.lba * layout.sectorSize, bytes };
}

function planDos(layout: DiskLayout, targetSectors: number, options: ApplyOptions): PartialPlan {
  // Copies of every table sector, patched in place when growing.
  const sectors = new Map<number, { region: LayoutRegion; bytes: Uint8Array }>();
  for (const r of layout.regions) sectors.set(r.lba, { region: r, bytes: r.bytes.slice() });
  const partitions = layout.partitions.map((p) => ({ ...p }));
  let grown: ApplyPlan['grown'];
  if (options.growLast) grown = growDos(layout, partitions, sectors, targetSectors);
  const writes = [...sectors.values()].map(({ region, bytes }) => write(layout, region, bytes));
  if (options.wipeStaleGptBackup) {
    const last = targetSectors - 1;
    const covered = partitions.some((p) => p.sectorCount > 0 && p.startLba <= last && last <= partitionEndLba(p));
    if (!covered && !sectors.has(last)) {
      writes.push({ what: 'stale-gpt-wipe', byteOffset: last * layout.sectorSize, bytes: new Uint8Array(layout.sectorSize) });
    }
  }
  return { exactReplay: grown === undefined, writes, partitions, grown };
}

function growDos(
  layout: DiskLayout,
  partitions: Partition[],
  sectors: Map<number, { region: LayoutRegion; bytes: Uint8Array }>,
  targetSectors: number,
): ApplyPlan['grown'] {
  const last = lastDataPartition({ partitions });
  if (!last) return undefined;
  const ext = partitions.find((p) => p.kind === 'extended');
  const entryIn = (lba: number, slot: number): { bytes: Uint8Array; entry: MbrEntry } => {
    const s = sectors.get(lba);
    const entry = s ? decodeMbrSector(s.bytes).entries[slot] : undefined;
    if (!s || !entry) throw new SnapcloneError('PT_LAYOUT_MISMATCH', `the saved layout has no table sector ${lba} for partition entries`);
    return { bytes: s.bytes, entry };
  };
  const setEnd = (lba: number, slot: number, absoluteStart: number, newEnd: number): void => {
    const { bytes, entry } = entryIn(lba, slot);
    entry.sectorCount = newEnd - absoluteStart + 1;
    entry.endChs = chsFromLba(newEnd);
    encodeMbrEntry(bytes, entry);
  };
  // 32-bit fields: a partition cannot end past sector 2^32 - 1 + its start.
  const capEnd = (start: number): number => Math.min(targetSectors - 1, start + MBR_MAX_U32 - 1);

  if (last.kind === 'primary') {
    if (ext && partitionEndLba(ext) > partitionEndLba(last)) {
      throw new SnapcloneError('PT_CANNOT_GROW', `partition ${last.number} cannot grow: the extended partition ${ext.number} lies after it`, { kind: 'refused' });
    }
    const newEnd = capEnd(last.startLba);
    if (newEnd <= partitionEndLba(last)) return undefined;
    const from = last.sectorCount;
    setEnd(0, last.entryIndex, last.startLba, newEnd);
    last.sectorCount = newEnd - last.startLba + 1;
    return { number: last.number, fromSectors: from, toSectors: last.sectorCount };
  }
  if (last.kind !== 'logical' || !ext) return undefined;
  const newEnd = capEnd(ext.startLba);
  if (newEnd <= partitionEndLba(last)) return undefined;
  const oldEnd = partitionEndLba(last);
  // The container, the logical's own EBR entry, and the link that describes its EBR's extent.
  setEnd(0, ext.entryIndex, ext.startLba, newEnd);
  ext.sectorCount = newEnd - ext.startLba + 1;
  setEnd(last.tableLba, last.entryIndex, last.startLba, newEnd);
  for (const r of regionsOf(layout, 'ebr')) {
    const s = sectors.get(r.lba);
    if (!s) continue;
    const table = decodeMbrSector(s.bytes);
    for (const e of table.entries) {
      if (e.sectorCount === 0 || !isLink(e)) continue;
      const target = ext.startLba + e.startLba;
      if (target !== last.tableLba) continue;
      // A link covers its EBR up to the end of that EBR's logical partition (sfdisk and Windows alike).
      if (target + e.sectorCount - 1 >= oldEnd) setEnd(r.lba, e.slot, target, newEnd);
    }
  }
  const from = last.sectorCount;
  last.sectorCount = newEnd - last.startLba + 1;
  return { number: last.number, fromSectors: from, toSectors: last.sectorCount };
}

function isLink(e: MbrEntry): boolean {
  return e.type === 0x05 || e.type === 0x0f || e.type === 0x85;
}

function planGpt(layout: DiskLayout, targetSectors: number, options: ApplyOptions): PartialPlan {
  const ss = layout.sectorSize;
  const diskSectors = Math.floor(layout.diskSizeBytes / ss);
  const primaryHeader = regionsOf(layout, 'gpt-primary-header')[0];
  const primaryEntries = regionsOf(layout, 'gpt-primary-entries')[0];
  const mbr = regionsOf(layout, 'mbr')[0];
  const hasBackup = regionsOf(layout, 'gpt-backup-header').length === 1 && regionsOf(layout, 'gpt-backup-entries').length === 1;
  if (!primaryHeader || !primaryEntries || !mbr || !layout.gpt) {
    throw new SnapcloneError('PT_LAYOUT_MISMATCH', 'the saved gpt layout lacks its MBR, primary header or entries');
  }
  const partitions = layout.partitions.map((p) => ({ ...p }));
  const header = decodeGptHeader(primaryHeader.bytes, ss);
  const backupHeader = regionsOf(layout, 'gpt-backup-header')[0];
  // Exact replay only when the saved copies point at each other; otherwise the headers are rewritten.
  const consistent = hasBackup && backupHeader !== undefined && header.alternateLba === backupHeader.lba;
  if (targetSectors === diskSectors && !options.growLast && consistent) {
    return { exactReplay: true, writes: layout.regions.map((r) => write(layout, r)), partitions, grown: undefined };
  }

  const entrySectors = entryArraySectors(header.entryCount, header.entrySize, ss);
  const newLast = targetSectors - 1;
  const backupEntriesLba = newLast - entrySectors;
  const newLastUsable = backupEntriesLba - 1;
  const entries = primaryEntries.bytes.slice();
  let grown: ApplyPlan['grown'];
  if (options.growLast) {
    const last = lastDataPartition({ partitions });
    if (last && newLastUsable > partitionEndLba(last)) {
      setGptEntryEndingLba(entries, last.entryIndex, header.entrySize, newLastUsable);
      const from = last.sectorCount;
      last.sectorCount = newLastUsable - last.startLba + 1;
      grown = { number: last.number, fromSectors: from, toSectors: last.sectorCount };
    }
  }
  const entriesCrc = crc32Ieee(entries.subarray(0, header.entryCount * header.entrySize));
  const primary = patchGptHeader(primaryHeader.bytes, { alternateLba: newLast, lastUsableLba: newLastUsable, entriesCrc });
  const backup = patchGptHeader(primaryHeader.bytes, {
    myLba: newLast,
    alternateLba: 1,
    lastUsableLba: newLastUsable,
    entriesLba: backupEntriesLba,
    entriesCrc,
  });
  const pmbr = mbr.bytes.slice();
  if (!layout.gpt.hybridMbr) {
    for (const e of decodeMbrSector(pmbr).entries) {
      // A protective entry sized to the old disk follows the new one; the 0xFFFFFFFF "whole disk" stays.
      if (e.type === TYPE_GPT_PROTECTIVE && e.sectorCount !== MBR_MAX_U32) {
        e.sectorCount = Math.min(targetSectors - 1, MBR_MAX_U32);
        encodeMbrEntry(pmbr, e);
      }
    }
  }
  const writes: PlannedWrite[] = [
    { what: 'mbr', byteOffset: 0, bytes: pmbr },
    { what: 'gpt-primary-header', byteOffset: primaryHeader.lba * ss, bytes: primary },
    { what: 'gpt-primary-entries', byteOffset: primaryEntries.lba * ss, bytes: entries },
    { what: 'gpt-backup-entries', byteOffset: backupEntriesLba * ss, bytes: entries },
    { what: 'gpt-backup-header', byteOffset: newLast * ss, bytes: backup },
  ];
  for (const r of regionsOf(layout, 'boot-area')) writes.push(write(layout, r));
  return { exactReplay: false, writes, partitions, grown };
}
