// One GPT partition entry (128 bytes or more) and the attribute text sfdisk writes for it.
// Layout: UEFI 2.10 §5.3.3, table 5-6 "GPT Partition Entry"; attribute bits: table 5-7.

import { viewOf, writeU64 } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';
import { guidToText, isZeroGuid } from './guid.js';

const OFF_TYPE_GUID = 0; // 16 bytes; all zero = unused entry
const OFF_UNIQUE_GUID = 16; // 16 bytes
const OFF_STARTING_LBA = 32; // le64
const OFF_ENDING_LBA = 40; // le64, inclusive
const OFF_ATTRIBUTES = 48; // le64
const OFF_NAME = 56; // 36 UTF-16LE code units, NUL-padded
export const GPT_NAME_UNITS = 36;
export const GPT_ENTRY_MIN_SIZE = 128;

// Attribute bits with names (UEFI table 5-7); 48-63 belong to the partition type ("GUID:" bits).
const ATTR_REQUIRED = 0n;
const ATTR_NO_BLOCK_IO = 1n;
const ATTR_LEGACY_BIOS_BOOTABLE = 2n;
const ATTR_TYPE_SPECIFIC_FIRST = 48n;

export interface GptEntry {
  index: number;
  typeGuid: string;
  uniqueGuid: string;
  startingLba: number;
  endingLba: number;
  attributes: bigint;
  name: string;
  /** libfdisk's rule: a non-zero type GUID, or a non-zero start even with a zero type. */
  used: boolean;
}

/** Decodes entry `index` of an entry array; `arrayByteOffset` is where the array sits on the disk (for errors). */
export function decodeGptEntry(entries: Uint8Array, index: number, entrySize: number, arrayByteOffset: number): GptEntry {
  const at = index * entrySize;
  const bytes = entries.subarray(at, at + entrySize);
  const v = viewOf(bytes);
  const lba = (off: number, what: string): number => {
    const value = v.getBigUint64(off, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new SnapcloneError('PT_LBA_TOO_LARGE', `GPT entry ${index + 1} ${what} is too large to be a sector number`, {
        byteOffset: arrayByteOffset + at + off,
        expected: `at most ${Number.MAX_SAFE_INTEGER}`,
        actual: value,
      });
    }
    return Number(value);
  };
  const typeIsZero = isZeroGuid(bytes, OFF_TYPE_GUID);
  const startRaw = v.getBigUint64(OFF_STARTING_LBA, true);
  const used = !typeIsZero || startRaw !== 0n;
  return {
    index,
    typeGuid: guidToText(bytes, OFF_TYPE_GUID),
    uniqueGuid: guidToText(bytes, OFF_UNIQUE_GUID),
    // Unused entries may hold anything; only used ones have their LBAs checked.
    startingLba: used ? lba(OFF_STARTING_LBA, 'StartingLBA') : 0,
    endingLba: used ? lba(OFF_ENDING_LBA, 'EndingLBA') : 0,
    attributes: v.getBigUint64(OFF_ATTRIBUTES, true),
    name: decodeName(bytes.subarray(OFF_NAME, OFF_NAME + GPT_NAME_UNITS * 2)),
    used,
  };
}

const UTF16LE = new TextDecoder('utf-16le');

/** The name up to its first NUL code unit. */
function decodeName(raw: Uint8Array): string {
  let units = 0;
  while (units < GPT_NAME_UNITS && (raw[2 * units] !== 0 || raw[2 * units + 1] !== 0)) units++;
  return UTF16LE.decode(raw.subarray(0, 2 * units));
}

/** Sets entry `index`'s EndingLBA in place (the caller recomputes the array CRC). */
export function setGptEntryEndingLba(entries: Uint8Array, index: number, entrySize: number, endingLba: number): void {
  writeU64(viewOf(entries.subarray(index * entrySize, (index + 1) * entrySize)), OFF_ENDING_LBA, endingLba);
}

/** The attribute text sfdisk writes: named bits 0-2, then "GUID:" and the set bits 48-63. */
export function gptAttributesText(attributes: bigint): string {
  const words: string[] = [];
  const bit = (n: bigint): boolean => ((attributes >> n) & 1n) === 1n;
  if (bit(ATTR_REQUIRED)) words.push('RequiredPartition');
  if (bit(ATTR_NO_BLOCK_IO)) words.push('NoBlockIOProtocol');
  if (bit(ATTR_LEGACY_BIOS_BOOTABLE)) words.push('LegacyBIOSBootable');
  const typeBits: number[] = [];
  for (let n = ATTR_TYPE_SPECIFIC_FIRST; n < 64n; n++) if (bit(n)) typeBits.push(Number(n));
  if (typeBits.length > 0) words.push(`GUID:${typeBits.join(',')}`);
  return words.join(' ');
}
