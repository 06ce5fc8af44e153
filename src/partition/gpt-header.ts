// The GPT header (primary at LBA 1, backup at the last LBA): decode, validate bounds, patch and re-CRC.
// Layout: UEFI 2.10 §5.3.2, table 5-5 "GPT Header".

import { viewOf, writeU64 } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';
import { crc32Ieee } from '../core/crc32-ieee.js';
import { guidToText } from './guid.js';

export const GPT_SIGNATURE = 'EFI PART';
const OFF_SIGNATURE = 0; // 8 bytes "EFI PART"
const OFF_REVISION = 8; // le32, 0x00010000 for 1.0
const OFF_HEADER_SIZE = 12; // le32, 92 .. sector size
const OFF_HEADER_CRC = 16; // le32, CRC-32 of the first HeaderSize bytes with this field zeroed
const OFF_RESERVED = 20; // le32, 0
const OFF_MY_LBA = 24; // le64, where this copy is
const OFF_ALTERNATE_LBA = 32; // le64, where the other copy is
const OFF_FIRST_USABLE_LBA = 40; // le64
const OFF_LAST_USABLE_LBA = 48; // le64
const OFF_DISK_GUID = 56; // 16 bytes
const OFF_ENTRIES_LBA = 72; // le64, first sector of this copy's entry array
const OFF_ENTRY_COUNT = 80; // le32
const OFF_ENTRY_SIZE = 84; // le32, 128 x 2^n
const OFF_ENTRIES_CRC = 88; // le32, CRC-32 of EntryCount x EntrySize bytes
export const GPT_HEADER_MIN_SIZE = 92;
export const GPT_REVISION_1_0 = 0x00010000;
export const GPT_PRIMARY_LBA = 1;

export interface GptHeader {
  revision: number;
  headerSize: number;
  headerCrc: number;
  reserved: number;
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

export function hasGptSignature(sector: Uint8Array, byteOffset = 0): boolean {
  for (let i = 0; i < GPT_SIGNATURE.length; i++) {
    if (sector[byteOffset + i] !== GPT_SIGNATURE.charCodeAt(i)) return false;
  }
  return true;
}

/** Decodes the fixed fields; 64-bit LBAs beyond 2^53 fail with PT_LBA_TOO_LARGE. */
export function decodeGptHeader(sector: Uint8Array, sectorByteOffset: number): GptHeader {
  const v = viewOf(sector);
  const lba = (off: number, what: string): number => {
    const value = v.getBigUint64(off, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new SnapcloneError('PT_LBA_TOO_LARGE', `GPT header ${what} is too large to be a sector number`, {
        byteOffset: sectorByteOffset + off,
        expected: `at most ${Number.MAX_SAFE_INTEGER}`,
        actual: value,
      });
    }
    return Number(value);
  };
  return {
    revision: v.getUint32(OFF_REVISION, true),
    headerSize: v.getUint32(OFF_HEADER_SIZE, true),
    headerCrc: v.getUint32(OFF_HEADER_CRC, true),
    reserved: v.getUint32(OFF_RESERVED, true),
    myLba: lba(OFF_MY_LBA, 'MyLBA'),
    alternateLba: lba(OFF_ALTERNATE_LBA, 'AlternateLBA'),
    firstUsableLba: lba(OFF_FIRST_USABLE_LBA, 'FirstUsableLBA'),
    lastUsableLba: lba(OFF_LAST_USABLE_LBA, 'LastUsableLBA'),
    diskGuid: guidToText(sector, OFF_DISK_GUID),
    entriesLba: lba(OFF_ENTRIES_LBA, 'PartitionEntryLBA'),
    entryCount: v.getUint32(OFF_ENTRY_COUNT, true),
    entrySize: v.getUint32(OFF_ENTRY_SIZE, true),
    entriesCrc: v.getUint32(OFF_ENTRIES_CRC, true),
  };
}

/** The CRC the header should carry: over `headerSize` bytes with the CRC field taken as zero. */
export function computeHeaderCrc(sector: Uint8Array, headerSize: number): number {
  const copy = sector.slice(0, headerSize);
  copy.fill(0, OFF_HEADER_CRC, OFF_HEADER_CRC + 4);
  return crc32Ieee(copy);
}

export interface GptHeaderPatch {
  myLba?: number;
  alternateLba?: number;
  lastUsableLba?: number;
  entriesLba?: number;
  entriesCrc?: number;
}

/**
 * A copy of the header sector `sector` with the given fields changed and the header CRC recomputed.
 * Bytes the patch does not name (reserved fields, bytes past 92 up to HeaderSize) are kept.
 */
export function patchGptHeader(sector: Uint8Array, patch: GptHeaderPatch): Uint8Array {
  const out = sector.slice();
  const v = viewOf(out);
  if (patch.myLba !== undefined) writeU64(v, OFF_MY_LBA, patch.myLba);
  if (patch.alternateLba !== undefined) writeU64(v, OFF_ALTERNATE_LBA, patch.alternateLba);
  if (patch.lastUsableLba !== undefined) writeU64(v, OFF_LAST_USABLE_LBA, patch.lastUsableLba);
  if (patch.entriesLba !== undefined) writeU64(v, OFF_ENTRIES_LBA, patch.entriesLba);
  if (patch.entriesCrc !== undefined) v.setUint32(OFF_ENTRIES_CRC, patch.entriesCrc, true);
  const headerSize = v.getUint32(OFF_HEADER_SIZE, true);
  v.setUint32(OFF_HEADER_CRC, computeHeaderCrc(out, headerSize), true);
  return out;
}

/** Byte offsets of the fields hostile-input tests and error messages point at. */
export const GPT_HEADER_FIELD_OFFSETS = {
  signature: OFF_SIGNATURE,
  revision: OFF_REVISION,
  headerSize: OFF_HEADER_SIZE,
  headerCrc: OFF_HEADER_CRC,
  myLba: OFF_MY_LBA,
  alternateLba: OFF_ALTERNATE_LBA,
  firstUsableLba: OFF_FIRST_USABLE_LBA,
  lastUsableLba: OFF_LAST_USABLE_LBA,
  diskGuid: OFF_DISK_GUID,
  entriesLba: OFF_ENTRIES_LBA,
  entryCount: OFF_ENTRY_COUNT,
  entrySize: OFF_ENTRY_SIZE,
  entriesCrc: OFF_ENTRIES_CRC,
} as const;
