// $ATTRIBUTE_LIST entries: where each attribute of an inode lives when they do not all fit in the
// base record (extent records; a stream's runs may continue in several of them).
// Spec: docs/spec/ntfsclone-format.md §3 (the walk reaches extents through the base inode's list).

import { viewOf } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';

const OFF_TYPE = 0x00; //          le32
const OFF_RECORD_LENGTH = 0x04; // le16
const OFF_NAME_LENGTH = 0x06; //   u8, UTF-16 units
const OFF_NAME_OFFSET = 0x07; //   u8
const OFF_LOWEST_VCN = 0x08; //    le64
const OFF_MFT_REFERENCE = 0x10; // le64: record number (48 bits) + sequence (16 bits)
const OFF_INSTANCE = 0x18; //      le16
const MIN_ENTRY_BYTES = 0x1a;

export interface AttributeListEntry {
  type: number;
  name: string;
  lowestVcn: number;
  recordNumber: number;
  sequenceNumber: number;
  instance: number;
}

/** Decodes a whole $ATTRIBUTE_LIST value. `ownerRecord` and `byteOffset` are for messages. */
export function decodeAttributeList(value: Uint8Array, ownerRecord: number, byteOffset: number): AttributeListEntry[] {
  const view = viewOf(value);
  const out: AttributeListEntry[] = [];
  let pos = 0;
  while (pos < value.byteLength) {
    const fail = (message: string, at: number, expected: unknown, actual: unknown): SnapcloneError =>
      new SnapcloneError('NTFS_BAD_ATTRIBUTE_LIST', `the attribute list of MFT record ${ownerRecord}: ${message}`, {
        byteOffset: byteOffset + at,
        expected,
        actual,
        hint: 'the MFT is damaged: run chkdsk /f on Windows',
      });
    if (pos + MIN_ENTRY_BYTES > value.byteLength) {
      // Windows pads some lists; trailing zeros shorter than an entry are not an entry.
      if (value.subarray(pos).every((b) => b === 0)) break;
      throw fail('an entry is cut short', pos, `${MIN_ENTRY_BYTES} bytes`, value.byteLength - pos);
    }
    const length = view.getUint16(pos + OFF_RECORD_LENGTH, true);
    if (length < MIN_ENTRY_BYTES || pos + length > value.byteLength) {
      throw fail('an entry has an invalid length', pos + OFF_RECORD_LENGTH, `${MIN_ENTRY_BYTES} .. ${value.byteLength - pos}`, length);
    }
    const nameLength = view.getUint8(pos + OFF_NAME_LENGTH);
    const nameOffset = view.getUint8(pos + OFF_NAME_OFFSET);
    if (nameLength > 0 && nameOffset + nameLength * 2 > length) {
      throw fail('an entry has its name outside it', pos + OFF_NAME_OFFSET, `within ${length} bytes`, `${nameLength} units at ${nameOffset}`);
    }
    let name = '';
    for (let i = 0; i < nameLength; i++) name += String.fromCharCode(view.getUint16(pos + nameOffset + i * 2, true));
    const lowest = view.getBigInt64(pos + OFF_LOWEST_VCN, true);
    if (lowest < 0n || lowest > BigInt(Number.MAX_SAFE_INTEGER)) throw fail('an entry has an invalid lowest VCN', pos + OFF_LOWEST_VCN, '>= 0', lowest);
    const ref = view.getBigUint64(pos + OFF_MFT_REFERENCE, true);
    out.push({
      type: view.getUint32(pos + OFF_TYPE, true),
      name,
      lowestVcn: Number(lowest),
      recordNumber: Number(ref & 0xffffffffffffn),
      sequenceNumber: Number(ref >> 48n),
      instance: view.getUint16(pos + OFF_INSTANCE, true),
    });
    pos += length;
  }
  return out;
}
