// The MBR sector and its four 16-byte partition entries; every EBR uses the same sector layout.
// Layout: IBM PC/AT "Master Boot Record" as the UEFI 2.10 spec §5.2.1 (table 5-1, 5-2) describes it.

import { viewOf } from '../core/bytes.js';

export const MBR_BOOT_CODE_BYTES = 440; // the boot loader's first stage
export const MBR_OFF_DISK_SIGNATURE = 440; // le32, sfdisk's dos "label-id"
export const MBR_OFF_RESERVED = 444; // le16, 0 (0x5A5A marks "copy protected" on some systems)
export const MBR_OFF_ENTRIES = 446; // four entries
export const MBR_ENTRY_BYTES = 16;
export const MBR_ENTRY_COUNT = 4;
export const MBR_OFF_BOOT_SIGNATURE = 510; // 0x55 0xAA
/** Where the partition table ends: everything before it is boot code, disk signature and reserved. */
export const MBR_TABLE_END = 512;

// Fields of one entry, relative to its start.
const ENTRY_OFF_BOOT_INDICATOR = 0; // 0x80 active, 0x00 inactive
const ENTRY_OFF_START_CHS = 1; // 3 bytes: head, sector | cylinder bits 8-9 << 6, cylinder bits 0-7
const ENTRY_OFF_TYPE = 4; // the "system id"
const ENTRY_OFF_END_CHS = 5; // 3 bytes, as start
const ENTRY_OFF_START_LBA = 8; // le32: absolute in the MBR, relative in EBRs
const ENTRY_OFF_SECTOR_COUNT = 12; // le32

export const BOOT_INDICATOR_ACTIVE = 0x80;
export const TYPE_EMPTY = 0x00;
export const TYPE_GPT_PROTECTIVE = 0xee;
/** DOS extended (CHS), W95 extended (LBA), Linux extended: the types whose area holds an EBR chain. */
export const EXTENDED_TYPES: ReadonlySet<number> = new Set([0x05, 0x0f, 0x85]);

export function isExtendedType(type: number): boolean {
  return EXTENDED_TYPES.has(type);
}

export interface Chs {
  cylinder: number;
  head: number;
  sector: number;
}

export interface MbrEntry {
  /** 0..3: which of the four entries. */
  slot: number;
  bootIndicator: number;
  type: number;
  startChs: Chs;
  endChs: Chs;
  /** As stored: absolute LBA in the MBR; relative (to the EBR or to the extended partition) in an EBR. */
  startLba: number;
  sectorCount: number;
}

export interface MbrSector {
  diskSignature: number;
  reserved: number;
  hasBootSignature: boolean;
  entries: MbrEntry[];
}

/** Byte offset of entry `slot` inside the sector. */
export function entryByteOffset(slot: number): number {
  return MBR_OFF_ENTRIES + slot * MBR_ENTRY_BYTES;
}

export function hasBootSignature(sector: Uint8Array): boolean {
  return sector[MBR_OFF_BOOT_SIGNATURE] === 0x55 && sector[MBR_OFF_BOOT_SIGNATURE + 1] === 0xaa;
}

/** Decodes the table part of an MBR or EBR sector (at least 512 bytes). */
export function decodeMbrSector(sector: Uint8Array): MbrSector {
  const view = viewOf(sector);
  const entries: MbrEntry[] = [];
  for (let slot = 0; slot < MBR_ENTRY_COUNT; slot++) entries.push(decodeMbrEntry(sector, view, slot));
  return {
    diskSignature: view.getUint32(MBR_OFF_DISK_SIGNATURE, true),
    reserved: view.getUint16(MBR_OFF_RESERVED, true),
    hasBootSignature: hasBootSignature(sector),
    entries,
  };
}

function decodeMbrEntry(sector: Uint8Array, view: DataView, slot: number): MbrEntry {
  const at = entryByteOffset(slot);
  return {
    slot,
    bootIndicator: sector[at + ENTRY_OFF_BOOT_INDICATOR] as number,
    type: sector[at + ENTRY_OFF_TYPE] as number,
    startChs: decodeChs(sector, at + ENTRY_OFF_START_CHS),
    endChs: decodeChs(sector, at + ENTRY_OFF_END_CHS),
    startLba: view.getUint32(at + ENTRY_OFF_START_LBA, true),
    sectorCount: view.getUint32(at + ENTRY_OFF_SECTOR_COUNT, true),
  };
}

/** Writes `entry` into entry slot `entry.slot` of `sector`; the rest of the sector is untouched. */
export function encodeMbrEntry(sector: Uint8Array, entry: MbrEntry): void {
  const view = viewOf(sector);
  const at = entryByteOffset(entry.slot);
  sector[at + ENTRY_OFF_BOOT_INDICATOR] = entry.bootIndicator;
  sector[at + ENTRY_OFF_TYPE] = entry.type;
  encodeChs(sector, at + ENTRY_OFF_START_CHS, entry.startChs);
  encodeChs(sector, at + ENTRY_OFF_END_CHS, entry.endChs);
  view.setUint32(at + ENTRY_OFF_START_LBA, entry.startLba, true);
  view.setUint32(at + ENTRY_OFF_SECTOR_COUNT, entry.sectorCount, true);
}

function decodeChs(sector: Uint8Array, at: number): Chs {
  const head = sector[at] as number;
  const b1 = sector[at + 1] as number;
  const b2 = sector[at + 2] as number;
  return { head, sector: b1 & 0x3f, cylinder: ((b1 & 0xc0) << 2) | b2 };
}

function encodeChs(sector: Uint8Array, at: number, chs: Chs): void {
  sector[at] = chs.head & 0xff;
  sector[at + 1] = (chs.sector & 0x3f) | ((chs.cylinder >>> 2) & 0xc0);
  sector[at + 2] = chs.cylinder & 0xff;
}

/** The geometry every current tool (sfdisk, Windows) assumes for CHS fields: 255 heads, 63 sectors. */
export const DEFAULT_HEADS = 255;
export const DEFAULT_SECTORS_PER_TRACK = 63;

/**
 * CHS of an LBA, as sfdisk and Windows write it; LBAs past cylinder 1023 get the 1023/254/63 marker
 * that says "use the LBA fields".
 */
export function chsFromLba(lba: number, heads = DEFAULT_HEADS, sectorsPerTrack = DEFAULT_SECTORS_PER_TRACK): Chs {
  const cylinder = Math.floor(lba / (heads * sectorsPerTrack));
  if (cylinder > 1023) return { cylinder: 1023, head: heads - 1, sector: sectorsPerTrack };
  return { cylinder, head: Math.floor(lba / sectorsPerTrack) % heads, sector: (lba % sectorsPerTrack) + 1 };
}

/** The largest value a 32-bit LBA or sector-count field holds. */
export const MBR_MAX_U32 = 0xffffffff;
