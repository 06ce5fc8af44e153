// Attribute records inside an MFT record: the common header, resident values and non-resident
// headers (VCN range, sizes, mapping pairs). Every length and offset is checked against the record.
// Spec: docs/spec/ntfsclone-format.md §3 (attributes the walk and the $Bitmap reader use).

import { viewOf } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';
import type { MftRecordHeader } from './mft-record.js';

// Common header.
const OFF_TYPE = 0x00; //             le32, 0xFFFFFFFF ends the list
const OFF_LENGTH = 0x04; //           le32
const OFF_NON_RESIDENT = 0x08; //     u8
const OFF_NAME_LENGTH = 0x09; //      u8, UTF-16 units
const OFF_NAME_OFFSET = 0x0a; //      le16
const OFF_FLAGS = 0x0c; //            le16
const OFF_INSTANCE = 0x0e; //         le16
// Resident.
const OFF_VALUE_LENGTH = 0x10; //     le32
const OFF_VALUE_OFFSET = 0x14; //     le16
const RESIDENT_HEADER_BYTES = 0x18;
// Non-resident.
const OFF_LOWEST_VCN = 0x10; //       le64
const OFF_HIGHEST_VCN = 0x18; //      le64
const OFF_MAPPING_PAIRS_OFFSET = 0x20; // le16
const OFF_COMPRESSION_UNIT = 0x22; // u8
const OFF_ALLOCATED_SIZE = 0x28; //   le64
const OFF_DATA_SIZE = 0x30; //        le64
const OFF_INITIALIZED_SIZE = 0x38; // le64
const NON_RESIDENT_HEADER_BYTES = 0x40;

export const AT_STANDARD_INFORMATION = 0x10;
export const AT_ATTRIBUTE_LIST = 0x20;
export const AT_FILE_NAME = 0x30;
export const AT_VOLUME_INFORMATION = 0x70;
export const AT_DATA = 0x80;
export const AT_END = 0xffffffff;

export interface AttributeRecord {
  type: number;
  name: string;
  nonResident: boolean;
  flags: number;
  instance: number;
  /** Offset of the attribute inside its record. */
  recordOffset: number;
  length: number;
  /** Resident only: the value's offset inside the record and its length. */
  valueOffset: number;
  valueLength: number;
  /** Non-resident only. */
  lowestVcn: number;
  highestVcn: number;
  /** Offset inside the record of the mapping pairs, and of the attribute's end. */
  mappingPairsOffset: number;
  compressionUnit: number;
  allocatedSize: number;
  dataSize: number;
  initializedSize: number;
}

function attrError(
  recordNumber: number,
  message: string,
  byteOffset: number,
  expected: unknown,
  actual: unknown,
): SnapcloneError {
  return new SnapcloneError('NTFS_BAD_ATTRIBUTE', `MFT record ${recordNumber}: ${message}`, {
    byteOffset,
    expected,
    actual,
    hint: 'the MFT record is damaged: run chkdsk /f on Windows',
  });
}


/** A fresh attribute record, to be filled by forEachAttribute. */
export function emptyAttributeRecord(): AttributeRecord {
  return {
    type: 0,
    name: '',
    nonResident: false,
    flags: 0,
    instance: 0,
    recordOffset: 0,
    length: 0,
    valueOffset: 0,
    valueLength: 0,
    lowestVcn: 0,
    highestVcn: -1,
    mappingPairsOffset: 0,
    compressionUnit: 0,
    allocatedSize: 0,
    dataSize: 0,
    initializedSize: 0,
  };
}

/** A signed 64-bit field as a number, or NaN when it is outside ±2^53 (no bigint per attribute). */
function readI64(view: DataView, off: number): number {
  const hi = view.getInt32(off + 4, true);
  if (hi >= 0x200000 || hi < -0x200000) return Number.NaN;
  return hi * 0x100000000 + view.getUint32(off, true);
}

function readSizeField(view: DataView, off: number, rn: number, base: number, what: string): number {
  const v = readI64(view, off);
  if (!(v >= 0)) {
    throw attrError(rn, `${what} is out of range`, base + off, `0 .. ${Number.MAX_SAFE_INTEGER}`, Number.isNaN(v) ? view.getBigInt64(off, true) : v);
  }
  return v;
}

/**
 * Walks the attributes of a record whose fixups are applied, checking every length and offset,
 * and calls `visit` with each. `scratch` is reused for every call (the MFT walk allocates
 * nothing per attribute); copy it to keep it. `volumeByteOffset` is for error messages.
 */
export function forEachAttribute(
  record: Uint8Array,
  header: MftRecordHeader,
  volumeByteOffset: number,
  view: DataView,
  visit: (a: AttributeRecord) => void,
  scratch: AttributeRecord = emptyAttributeRecord(),
): void {
  const end = header.bytesInUse;
  const rn = header.recordNumber;
  const a = scratch;
  let pos = header.attrsOffset;
  for (;;) {
    if (pos + 4 > end) {
      throw attrError(rn, 'the attribute list runs past the bytes in use', volumeByteOffset + pos, `an end marker before ${end}`, 'none');
    }
    const type = view.getUint32(pos + OFF_TYPE, true);
    if (type === AT_END) return;
    if (pos + RESIDENT_HEADER_BYTES > end) {
      throw attrError(rn, 'an attribute header runs past the bytes in use', volumeByteOffset + pos, `${RESIDENT_HEADER_BYTES} bytes before ${end}`, end - pos);
    }
    const length = view.getUint32(pos + OFF_LENGTH, true);
    const nonResident = view.getUint8(pos + OFF_NON_RESIDENT) !== 0;
    const minLength = nonResident ? NON_RESIDENT_HEADER_BYTES : RESIDENT_HEADER_BYTES;
    if (length < minLength || length % 8 !== 0 || pos + length > end) {
      throw attrError(rn, `attribute 0x${type.toString(16)} has an invalid length`, volumeByteOffset + pos + OFF_LENGTH, `a multiple of 8 from ${minLength} to ${end - pos}`, length);
    }
    const nameLength = view.getUint8(pos + OFF_NAME_LENGTH);
    const nameOffset = view.getUint16(pos + OFF_NAME_OFFSET, true);
    if (nameLength > 0 && nameOffset + nameLength * 2 > length) {
      throw attrError(rn, `attribute 0x${type.toString(16)} has its name outside it`, volumeByteOffset + pos + OFF_NAME_OFFSET, `name within ${length} bytes`, `${nameLength} units at ${nameOffset}`);
    }
    let name = '';
    for (let i = 0; i < nameLength; i++) name += String.fromCharCode(view.getUint16(pos + nameOffset + i * 2, true));
    a.type = type;
    a.name = name;
    a.nonResident = nonResident;
    a.flags = view.getUint16(pos + OFF_FLAGS, true);
    a.instance = view.getUint16(pos + OFF_INSTANCE, true);
    a.recordOffset = pos;
    a.length = length;
    a.valueOffset = 0;
    a.valueLength = 0;
    a.lowestVcn = 0;
    a.highestVcn = -1;
    a.mappingPairsOffset = 0;
    a.compressionUnit = 0;
    a.allocatedSize = 0;
    a.dataSize = 0;
    a.initializedSize = 0;
    if (!nonResident) {
      const valueLength = view.getUint32(pos + OFF_VALUE_LENGTH, true);
      const valueOffset = view.getUint16(pos + OFF_VALUE_OFFSET, true);
      if (valueOffset + valueLength > length || (valueLength > 0 && valueOffset < RESIDENT_HEADER_BYTES)) {
        throw attrError(rn, `resident attribute 0x${type.toString(16)} has its value outside it`, volumeByteOffset + pos + OFF_VALUE_LENGTH, `value within ${length} bytes`, `${valueLength} bytes at ${valueOffset}`);
      }
      a.valueOffset = pos + valueOffset;
      a.valueLength = valueLength;
    } else {
      const base = volumeByteOffset + pos;
      const lowest = readI64(view, pos + OFF_LOWEST_VCN);
      const highest = readI64(view, pos + OFF_HIGHEST_VCN);
      if (!(lowest >= 0) || !(highest >= -1) || highest < lowest - 1) {
        throw attrError(rn, `attribute 0x${type.toString(16)} has an invalid VCN range`, base + OFF_LOWEST_VCN, 'lowest_vcn >= 0, highest_vcn >= lowest_vcn - 1', `${view.getBigInt64(pos + OFF_LOWEST_VCN, true)}..${view.getBigInt64(pos + OFF_HIGHEST_VCN, true)}`);
      }
      const mpo = view.getUint16(pos + OFF_MAPPING_PAIRS_OFFSET, true);
      if (mpo < NON_RESIDENT_HEADER_BYTES || mpo >= length) {
        throw attrError(rn, `attribute 0x${type.toString(16)} has its mapping pairs outside it`, base + OFF_MAPPING_PAIRS_OFFSET, `${NON_RESIDENT_HEADER_BYTES} .. ${length - 1}`, mpo);
      }
      a.lowestVcn = lowest;
      a.highestVcn = highest;
      a.mappingPairsOffset = pos + mpo;
      a.compressionUnit = view.getUint8(pos + OFF_COMPRESSION_UNIT);
      a.allocatedSize = readSizeField(view, pos + OFF_ALLOCATED_SIZE, rn, volumeByteOffset, 'allocated size');
      a.dataSize = readSizeField(view, pos + OFF_DATA_SIZE, rn, volumeByteOffset, 'data size');
      a.initializedSize = readSizeField(view, pos + OFF_INITIALIZED_SIZE, rn, volumeByteOffset, 'initialized size');
    }
    visit(a);
    pos += length;
  }
}

/**
 * Lists the attributes of a record whose fixups are applied. `volumeByteOffset` is where the
 * record sits on the volume, for error messages.
 */
export function readAttributes(
  record: Uint8Array,
  header: MftRecordHeader,
  volumeByteOffset: number,
  view: DataView = viewOf(record),
): AttributeRecord[] {
  const out: AttributeRecord[] = [];
  forEachAttribute(record, header, volumeByteOffset, view, (a) => out.push({ ...a }));
  return out;
}

/** The first attribute of `type` and `name` in a list (for records without $ATTRIBUTE_LIST). */
export function findAttribute(attrs: AttributeRecord[], type: number, name = ''): AttributeRecord | undefined {
  return attrs.find((a) => a.type === type && a.name === name);
}
