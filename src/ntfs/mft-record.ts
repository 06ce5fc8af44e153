// MFT file records: the "FILE" header, update-sequence fixups (applied every 512 bytes, also with
// 4096-byte sectors) and the header fields the cluster walk needs.
// Spec: docs/spec/ntfsclone-format.md §3 (records read by ntfsclone's walk and by the $Bitmap reader).

import { viewOf } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';

const OFF_MAGIC = 0x00; //             "FILE"
const OFF_USA_OFFSET = 0x04; //        le16
const OFF_USA_COUNT = 0x06; //         le16: 1 + record size / 512
const OFF_SEQUENCE_NUMBER = 0x10; //   le16
const OFF_ATTRS_OFFSET = 0x14; //      le16
const OFF_FLAGS = 0x16; //             le16
const OFF_BYTES_IN_USE = 0x18; //      le32
const OFF_BYTES_ALLOCATED = 0x1c; //   le32
const OFF_BASE_MFT_RECORD = 0x20; //   le64: record number (48 bits) + sequence (16 bits)

/** The update sequence protects the last two bytes of every 512-byte block, whatever the sector size. */
export const FIXUP_STRIDE_BYTES = 512;
export const MFT_RECORD_IN_USE = 0x0001;
export const MFT_RECORD_IS_DIRECTORY = 0x0002;


export interface MftRecordHeader {
  recordNumber: number;
  flags: number;
  inUse: boolean;
  sequenceNumber: number;
  attrsOffset: number;
  bytesInUse: number;
  /**
   * True for an extent record (a non-zero base reference). Extents of $MFT itself have base
   * record number 0 with a non-zero sequence number, so the number alone does not tell.
   */
  isExtent: boolean;
  /** Base record number for an extent record; 0 for a base record. */
  baseRecordNumber: number;
  baseSequenceNumber: number;
}

/** True when the record starts with "FILE" (free records may hold zeros or "BAAD"). */
export function hasFileMagic(record: Uint8Array): boolean {
  // Byte compares: this runs on every record of the MFT.
  return record.byteLength >= 4 && record[0] === 0x46 && record[1] === 0x49 && record[2] === 0x4c && record[3] === 0x45;
}

/**
 * Applies the update-sequence fixups of `record` in place and decodes its header. `byteOffset`
 * is where the record sits on the volume, for error messages.
 */
export function decodeMftRecord(
  record: Uint8Array,
  recordNumber: number,
  byteOffset: number,
  view: DataView = viewOf(record),
): MftRecordHeader {
  const size = record.byteLength;
  const where = `MFT record ${recordNumber}`;
  if (!hasFileMagic(record)) {
    throw new SnapcloneError('NTFS_BAD_RECORD', `${where} has no FILE signature`, {
      byteOffset: byteOffset + OFF_MAGIC,
      expected: '"FILE"',
      actual: JSON.stringify(String.fromCharCode(...record.subarray(0, 4))),
    });
  }
  applyFixups(record, view, where, byteOffset);
  const attrsOffset = view.getUint16(OFF_ATTRS_OFFSET, true);
  const bytesInUse = view.getUint32(OFF_BYTES_IN_USE, true);
  const bytesAllocated = view.getUint32(OFF_BYTES_ALLOCATED, true);
  if (bytesAllocated !== size) {
    throw new SnapcloneError('NTFS_BAD_RECORD', `${where}: allocated size differs from the MFT record size`, {
      byteOffset: byteOffset + OFF_BYTES_ALLOCATED,
      expected: size,
      actual: bytesAllocated,
    });
  }
  if (bytesInUse > size || bytesInUse < attrsOffset + 8) {
    throw new SnapcloneError('NTFS_BAD_RECORD', `${where}: bytes in use is out of range`, {
      byteOffset: byteOffset + OFF_BYTES_IN_USE,
      expected: `${attrsOffset + 8} .. ${size}`,
      actual: bytesInUse,
    });
  }
  if (attrsOffset % 8 !== 0 || attrsOffset < OFF_BASE_MFT_RECORD + 8) {
    throw new SnapcloneError('NTFS_BAD_RECORD', `${where}: the first attribute offset is invalid`, {
      byteOffset: byteOffset + OFF_ATTRS_OFFSET,
      expected: `a multiple of 8, at least ${OFF_BASE_MFT_RECORD + 8}`,
      actual: attrsOffset,
    });
  }
  const flags = view.getUint16(OFF_FLAGS, true);
  const baseRef = view.getBigUint64(OFF_BASE_MFT_RECORD, true);
  return {
    recordNumber,
    flags,
    inUse: (flags & MFT_RECORD_IN_USE) !== 0,
    sequenceNumber: view.getUint16(OFF_SEQUENCE_NUMBER, true),
    attrsOffset,
    bytesInUse,
    isExtent: baseRef !== 0n,
    baseRecordNumber: Number(baseRef & 0xffffffffffffn),
    baseSequenceNumber: Number(baseRef >> 48n),
  };
}

function checkUsa(view: DataView, size: number, where: string, byteOffset: number): { usaOffset: number; usaCount: number } {
  const usaOffset = view.getUint16(OFF_USA_OFFSET, true);
  const usaCount = view.getUint16(OFF_USA_COUNT, true);
  const expectedCount = size / FIXUP_STRIDE_BYTES + 1;
  if (usaCount !== expectedCount) {
    throw new SnapcloneError('NTFS_BAD_FIXUP', `${where}: the update sequence has the wrong length`, {
      byteOffset: byteOffset + OFF_USA_COUNT,
      expected: expectedCount,
      actual: usaCount,
    });
  }
  // libntfs-3g: the array must be 2-aligned and end within the first 512 bytes.
  if (usaOffset & 1 || usaOffset < OFF_BYTES_ALLOCATED || usaOffset + usaCount * 2 > FIXUP_STRIDE_BYTES) {
    throw new SnapcloneError('NTFS_BAD_FIXUP', `${where}: the update sequence offset is invalid`, {
      byteOffset: byteOffset + OFF_USA_OFFSET,
      expected: `an even offset with the array inside the first ${FIXUP_STRIDE_BYTES} bytes`,
      actual: usaOffset,
    });
  }
  return { usaOffset, usaCount };
}

/** Checks the sequence number at the end of every 512-byte block and restores the saved bytes. */
export function applyFixups(record: Uint8Array, view: DataView, where: string, byteOffset: number): void {
  const size = record.byteLength;
  const { usaOffset, usaCount } = checkUsa(view, size, where, byteOffset);
  const usn = view.getUint16(usaOffset, true);
  for (let i = 1; i < usaCount; i++) {
    const end = i * FIXUP_STRIDE_BYTES - 2;
    const found = view.getUint16(end, true);
    if (found !== usn) {
      throw new SnapcloneError('NTFS_BAD_FIXUP', `${where}: update sequence mismatch (a torn write?)`, {
        byteOffset: byteOffset + end,
        expected: `0x${usn.toString(16)}`,
        actual: `0x${found.toString(16)}`,
        hint: 'run chkdsk /f on Windows',
      });
    }
    view.setUint16(end, view.getUint16(usaOffset + 2 * i, true), true);
  }
}

/**
 * The inverse of applyFixups, for tools that patch records (tests): saves the last two bytes of
 * every 512-byte block into the update sequence array and writes the sequence number there.
 */
export function protectRecord(record: Uint8Array): void {
  const view = viewOf(record);
  const { usaOffset, usaCount } = checkUsa(view, record.byteLength, 'record', 0);
  const usn = view.getUint16(usaOffset, true);
  for (let i = 1; i < usaCount; i++) {
    const end = i * FIXUP_STRIDE_BYTES - 2;
    view.setUint16(usaOffset + 2 * i, view.getUint16(end, true), true);
    view.setUint16(end, usn, true);
  }
}
