// An NTFS volume opened for reading through ReadAt: the boot sector, $MFT's own runlist (also
// when $MFT is fragmented into an $ATTRIBUTE_LIST), records by number, streams of the system files
// ($Bitmap, $BadClus:$Bad) and $Volume's version and flags.
// Spec: docs/spec/ntfsclone-format.md §3-4 (what ntfsclone reads and checks before saving).

import { equalBytes, viewOf } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';
import { readExactly, type ReadAt } from '../core/read-at.js';
import { AT_ATTRIBUTE_LIST, AT_DATA, AT_VOLUME_INFORMATION, readAttributes, type AttributeRecord } from './attribute.js';
import { decodeAttributeList, type AttributeListEntry } from './attribute-list.js';
import { BOOT_SECTOR_BYTES, decodeBootSector, type BootSector } from './boot-sector.js';
import { decodeMftRecord, hasFileMagic, type MftRecordHeader } from './mft-record.js';
import { decodeRunlist, findRunIndex, type Run } from './runlist.js';
import { readStream, type NonResidentStream } from './stream-reader.js';

export const MFT_RECORD_MFT = 0;
export const MFT_RECORD_MFTMIRR = 1;
export const MFT_RECORD_VOLUME = 3;
export const MFT_RECORD_BITMAP = 6;
export const MFT_RECORD_BADCLUS = 8;
/** The first records every volume has; $MFT must hold at least these. */
const SYSTEM_RECORDS = 16;
/** libntfs-3g compares this many records of $MFT and $MFTMirr when it mounts. */
const MFTMIRR_RECORDS = 4;
/** An attribute list larger than this is certainly corrupt (Windows caps them at 256 KiB). */
const MAX_ATTRIBUTE_LIST_BYTES = 4 * 1024 * 1024;

// $VOLUME_INFORMATION value.
const OFF_VOL_MAJOR = 0x08; // u8
const OFF_VOL_MINOR = 0x09; // u8
const OFF_VOL_FLAGS = 0x0a; // le16
export const VOLUME_IS_DIRTY = 0x0001;

export interface MftRecord {
  bytes: Uint8Array;
  header: MftRecordHeader;
  attrs: AttributeRecord[];
  /** Where the record starts on the volume. */
  volumeByteOffset: number;
}

export interface VolumeInformation {
  majorVersion: number;
  minorVersion: number;
  flags: number;
  dirty: boolean;
}

/** An attribute record found for a stream, with the record that holds it. */
export interface StreamPiece {
  attr: AttributeRecord;
  record: MftRecord;
}

export class NtfsVolume {
  private constructor(
    readonly source: ReadAt,
    readonly boot: BootSector,
    /** $MFT:$DATA, complete (extents included). */
    readonly mft: NonResidentStream,
  ) {}

  /**
   * Reads the boot sector and $MFT's runlist. `deviceBytes` (default: the source's size) is the
   * size ntfsclone compares the volume with.
   */
  static async open(source: ReadAt, deviceBytes: number = source.sizeBytes): Promise<NtfsVolume> {
    if (source.sizeBytes < BOOT_SECTOR_BYTES) {
      throw new SnapcloneError('NTFS_NOT_NTFS', 'the source is too small to hold an NTFS volume', {
        expected: `at least ${BOOT_SECTOR_BYTES} bytes`,
        actual: `${source.sizeBytes} bytes`,
      });
    }
    const boot = decodeBootSector(await readExactly(source, 0, BOOT_SECTOR_BYTES, 'NTFS_TRUNCATED', 'the boot sector'), deviceBytes);
    // Record 0 sits at the start of $MFT's first run; read it directly, then its runs.
    const mft0Offset = boot.mftLcn * boot.clusterSize;
    const bytes = await readExactly(source, mft0Offset, boot.mftRecordSize, 'NTFS_TRUNCATED', 'MFT record 0');
    const header = decodeMftRecord(bytes, 0, mft0Offset);
    const record0: MftRecord = { bytes, header, attrs: readAttributes(bytes, header, mft0Offset), volumeByteOffset: mft0Offset };
    const data = record0.attrs.find((a) => a.type === AT_DATA && a.name === '' && a.lowestVcn === 0);
    if (!data || !data.nonResident) {
      throw new SnapcloneError('NTFS_BAD_MFT', '$MFT has no non-resident $DATA attribute in record 0', {
        byteOffset: mft0Offset,
        expected: 'a non-resident unnamed $DATA',
        actual: data ? 'resident' : 'none',
      });
    }
    const first: NonResidentStream = {
      runs: decodeRunsOf(record0, data, boot.nrClusters),
      dataSize: data.dataSize,
      initializedSize: data.initializedSize,
      what: '$MFT',
    };
    const volume = new NtfsVolume(source, boot, first);
    // A fragmented $MFT may continue its runlist in extent records named by its attribute list;
    // those records are reachable through the runs already known (the first run covers them).
    if (record0.attrs.some((a) => a.type === AT_ATTRIBUTE_LIST)) {
      const pieces = await volume.streamPieces(record0, AT_DATA, '');
      first.runs = pieces.flatMap((p) => decodeRunsOf(p.record, p.attr, boot.nrClusters));
      checkContiguousVcns(first.runs, '$MFT', mft0Offset);
    }
    // $MFT may not have holes, and its runs must hold what it claims to hold: this also bounds
    // the walk by the size of the volume, whatever the sizes in record 0 say.
    const mappedBytes = first.runs.reduce((n, r) => n + r.length, 0) * boot.clusterSize;
    if (first.runs.some((r) => r.lcn < 0) || first.initializedSize > mappedBytes) {
      throw new SnapcloneError('NTFS_BAD_MFT', '$MFT has holes or is shorter than its initialized size', {
        byteOffset: mft0Offset,
        expected: `runs without holes covering ${first.initializedSize} bytes`,
        actual: `${mappedBytes} bytes mapped${first.runs.some((r) => r.lcn < 0) ? ', with holes' : ''}`,
      });
    }
    if (first.initializedSize > first.dataSize || first.initializedSize < SYSTEM_RECORDS * boot.mftRecordSize) {
      throw new SnapcloneError('NTFS_BAD_MFT', '$MFT is too small or its sizes are inconsistent', {
        byteOffset: mft0Offset,
        expected: `at least ${SYSTEM_RECORDS} records, initialized_size <= data_size`,
        actual: `initialized ${first.initializedSize}, data ${first.dataSize}`,
      });
    }
    await volume.checkMftMirror();
    return volume;
  }

  get clusterSize(): number {
    return this.boot.clusterSize;
  }

  get nrClusters(): number {
    return this.boot.nrClusters;
  }

  /** Records ntfsclone's walk covers: initialized_size($MFT:$DATA) / record size. */
  get recordCount(): number {
    return Math.floor(this.mft.initializedSize / this.boot.mftRecordSize);
  }

  /** Where record `n` starts on the volume (for error messages); -1 if no run maps it. */
  recordVolumeOffset(n: number): number {
    const streamOffset = n * this.boot.mftRecordSize;
    const vcn = Math.floor(streamOffset / this.boot.clusterSize);
    const runs = this.mft.runs;
    const lo = findRunIndex(runs, vcn);
    const run = runs[lo];
    return run && vcn >= run.vcn && run.lcn >= 0 ? run.lcn * this.boot.clusterSize + (streamOffset - run.vcn * this.boot.clusterSize) : -1;
  }

  /** Raw bytes of records [first, first + count) into `target` (fixups not applied). */
  async readRawRecords(first: number, count: number, target: Uint8Array): Promise<void> {
    const rs = this.boot.mftRecordSize;
    await readStream(this.source, this.boot.clusterSize, this.mft, first * rs, target.subarray(0, count * rs));
  }

  /** Reads and decodes record `n` (fixups applied, attributes listed). */
  async readRecord(n: number): Promise<MftRecord> {
    if (!Number.isSafeInteger(n) || n < 0 || n >= this.recordCount) {
      throw new SnapcloneError('NTFS_BAD_RECORD_NUMBER', `MFT record ${n} does not exist`, {
        expected: `a record number below ${this.recordCount}`,
        actual: n,
      });
    }
    const bytes = new Uint8Array(this.boot.mftRecordSize);
    await this.readRawRecords(n, 1, bytes);
    return this.decodeRecord(bytes, n);
  }

  decodeRecord(bytes: Uint8Array, n: number): MftRecord {
    const volumeByteOffset = this.recordVolumeOffset(n);
    const header = decodeMftRecord(bytes, n, volumeByteOffset);
    return { bytes, header, attrs: readAttributes(bytes, header, volumeByteOffset), volumeByteOffset };
  }

  /** The value of a resident or non-resident attribute, whole (bounded by `maxBytes`). */
  async attributeValue(record: MftRecord, attr: AttributeRecord, maxBytes: number, what: string): Promise<Uint8Array> {
    if (!attr.nonResident) return record.bytes.slice(attr.valueOffset, attr.valueOffset + attr.valueLength);
    if (attr.dataSize > maxBytes) {
      throw new SnapcloneError('NTFS_ATTRIBUTE_TOO_LARGE', `${what} is implausibly large`, {
        byteOffset: record.volumeByteOffset + attr.recordOffset,
        expected: `at most ${maxBytes} bytes`,
        actual: `${attr.dataSize} bytes`,
      });
    }
    const out = new Uint8Array(attr.dataSize);
    const stream: NonResidentStream = {
      runs: decodeRunsOf(record, attr, this.boot.nrClusters),
      dataSize: attr.dataSize,
      initializedSize: Math.min(attr.initializedSize, attr.dataSize),
      what,
    };
    await readStream(this.source, this.boot.clusterSize, stream, 0, out);
    return out;
  }

  /** The entries of `record`'s $ATTRIBUTE_LIST, or undefined when it has none. */
  async attributeList(record: MftRecord): Promise<AttributeListEntry[] | undefined> {
    const list = record.attrs.find((a) => a.type === AT_ATTRIBUTE_LIST);
    if (!list) return undefined;
    const value = await this.attributeValue(record, list, MAX_ATTRIBUTE_LIST_BYTES, `the attribute list of MFT record ${record.header.recordNumber}`);
    return decodeAttributeList(value, record.header.recordNumber, record.volumeByteOffset + list.recordOffset);
  }

  /**
   * Every attribute record of stream (`type`, `name`) of the inode whose base record is `base`,
   * in VCN order, following the attribute list into extent records.
   */
  async streamPieces(base: MftRecord, type: number, name: string): Promise<StreamPiece[]> {
    const entries = await this.attributeList(base);
    if (!entries) {
      return base.attrs.filter((a) => a.type === type && a.name === name).map((attr) => ({ attr, record: base }));
    }
    const pieces: StreamPiece[] = [];
    const baseNumber = base.header.recordNumber;
    for (const e of entries.filter((x) => x.type === type && x.name === name).sort((x, y) => x.lowestVcn - y.lowestVcn)) {
      const record = e.recordNumber === baseNumber ? base : await this.readExtent(e.recordNumber, baseNumber);
      const attr = record.attrs.find((a) => a.type === type && a.name === name && a.lowestVcn === e.lowestVcn);
      if (!attr) {
        throw new SnapcloneError('NTFS_BAD_ATTRIBUTE_LIST', `MFT record ${baseNumber}: its attribute list names an attribute that record ${e.recordNumber} does not hold`, {
          byteOffset: record.volumeByteOffset,
          expected: `attribute 0x${type.toString(16)} "${name}" from VCN ${e.lowestVcn}`,
          actual: 'none',
          hint: 'the MFT is damaged: run chkdsk /f on Windows',
        });
      }
      pieces.push({ attr, record });
    }
    return pieces;
  }

  /** Reads extent record `n` and checks that it belongs to base record `baseNumber`. */
  async readExtent(n: number, baseNumber: number): Promise<MftRecord> {
    const bytes = new Uint8Array(this.boot.mftRecordSize);
    if (!Number.isSafeInteger(n) || n >= this.recordCount) {
      throw new SnapcloneError('NTFS_BAD_ATTRIBUTE_LIST', `MFT record ${baseNumber}: its attribute list points past the MFT`, {
        expected: `a record below ${this.recordCount}`,
        actual: n,
      });
    }
    await this.readRawRecords(n, 1, bytes);
    if (!hasFileMagic(bytes)) {
      throw new SnapcloneError('NTFS_BAD_ATTRIBUTE_LIST', `MFT record ${baseNumber}: its extent record ${n} is not a FILE record`, {
        byteOffset: this.recordVolumeOffset(n),
        expected: '"FILE"',
        actual: JSON.stringify(String.fromCharCode(...bytes.subarray(0, 4))),
        hint: 'the MFT is damaged: run chkdsk /f on Windows',
      });
    }
    const record = this.decodeRecord(bytes, n);
    if (!record.header.inUse || !record.header.isExtent || record.header.baseRecordNumber !== baseNumber) {
      throw new SnapcloneError('NTFS_BAD_ATTRIBUTE_LIST', `MFT record ${baseNumber}: its extent record ${n} belongs elsewhere`, {
        byteOffset: record.volumeByteOffset,
        expected: `an in-use extent of record ${baseNumber}`,
        actual: !record.header.inUse ? 'a free record' : record.header.isExtent ? `an extent of record ${record.header.baseRecordNumber}` : 'a base record',
        hint: 'the MFT is damaged: run chkdsk /f on Windows',
      });
    }
    return record;
  }

  /** The complete runlist and sizes of a non-resident stream of a base record. */
  async nonResidentStream(recordNumber: number, type: number, name: string, what: string): Promise<NonResidentStream | undefined> {
    const base = await this.readRecord(recordNumber);
    const pieces = await this.streamPieces(base, type, name);
    const head = pieces[0];
    if (!head) return undefined;
    if (!head.attr.nonResident) {
      throw new SnapcloneError('NTFS_BAD_ATTRIBUTE', `${what} is resident, which this reader does not expect`, {
        byteOffset: head.record.volumeByteOffset + head.attr.recordOffset,
        expected: 'a non-resident attribute',
        actual: 'resident',
      });
    }
    const runs = pieces.flatMap((p) => decodeRunsOf(p.record, p.attr, this.boot.nrClusters));
    checkContiguousVcns(runs, what, head.record.volumeByteOffset);
    return { runs, dataSize: head.attr.dataSize, initializedSize: Math.min(head.attr.initializedSize, head.attr.dataSize), what };
  }

  /** $Volume's $VOLUME_INFORMATION: NTFS version and flags (0x0001 = dirty). */
  async volumeInformation(): Promise<VolumeInformation> {
    const record = await this.readRecord(MFT_RECORD_VOLUME);
    const attr = record.attrs.find((a) => a.type === AT_VOLUME_INFORMATION);
    if (!attr || attr.nonResident || attr.valueLength < OFF_VOL_FLAGS + 2) {
      throw new SnapcloneError('NTFS_BAD_VOLUME_INFORMATION', '$Volume has no valid $VOLUME_INFORMATION attribute', {
        byteOffset: record.volumeByteOffset,
        expected: `a resident value of at least ${OFF_VOL_FLAGS + 2} bytes`,
        actual: attr ? `${attr.nonResident ? 'non-resident' : `${attr.valueLength} bytes`}` : 'none',
      });
    }
    const view = viewOf(record.bytes.subarray(attr.valueOffset, attr.valueOffset + attr.valueLength));
    const flags = view.getUint16(OFF_VOL_FLAGS, true);
    return {
      majorVersion: view.getUint8(OFF_VOL_MAJOR),
      minorVersion: view.getUint8(OFF_VOL_MINOR),
      flags,
      dirty: (flags & VOLUME_IS_DIRTY) !== 0,
    };
  }

  /** $Bitmap:$DATA (record 6). */
  async bitmapStream(): Promise<NonResidentStream> {
    const s = await this.nonResidentStream(MFT_RECORD_BITMAP, AT_DATA, '', '$Bitmap');
    if (!s) {
      throw new SnapcloneError('NTFS_BAD_BITMAP', '$Bitmap has no $DATA attribute', { expected: 'record 6 with $DATA', actual: 'none' });
    }
    return s;
  }

  /** The real (non-sparse) runs of $BadClus:$Bad (record 8): clusters marked bad. */
  async badClusterRuns(): Promise<Run[]> {
    const s = await this.nonResidentStream(MFT_RECORD_BADCLUS, AT_DATA, '$Bad', '$BadClus:$Bad');
    return s ? s.runs.filter((r) => r.lcn >= 0) : [];
  }

  /**
   * libntfs-3g refuses to mount when the first records of $MFT and $MFTMirr differ; so does
   * ntfsclone, and so do we (it is how a half-written system record shows).
   */
  private async checkMftMirror(): Promise<void> {
    const rs = this.boot.mftRecordSize;
    const mirrorOffset = this.boot.mftMirrLcn * this.boot.clusterSize;
    const mirror = await readExactly(this.source, mirrorOffset, rs * MFTMIRR_RECORDS, 'NTFS_TRUNCATED', '$MFTMirr');
    const main = new Uint8Array(rs * MFTMIRR_RECORDS);
    await this.readRawRecords(0, MFTMIRR_RECORDS, main);
    for (let i = 0; i < MFTMIRR_RECORDS; i++) {
      const a = main.subarray(i * rs, (i + 1) * rs);
      const b = mirror.subarray(i * rs, (i + 1) * rs);
      if (!hasFileMagic(a) && !hasFileMagic(b)) continue;
      let same = hasFileMagic(a) && hasFileMagic(b);
      if (same) {
        const ra = this.decodeRecord(a, i);
        const hb = decodeMftRecord(b, i, mirrorOffset + i * rs);
        same = hb.bytesInUse === ra.header.bytesInUse && equalBytes(a.subarray(0, ra.header.bytesInUse), b.subarray(0, hb.bytesInUse));
      }
      if (!same) {
        throw new SnapcloneError('NTFS_MFTMIRR_MISMATCH', `$MFTMirr does not match $MFT (record ${i})`, {
          byteOffset: mirrorOffset + i * rs,
          expected: `a copy of $MFT record ${i}`,
          actual: 'different bytes',
          hint: 'run chkdsk /f on Windows (or ntfsfix) to repair the mirror',
        });
      }
    }
  }
}

function decodeRunsOf(record: MftRecord, attr: AttributeRecord, nrClusters: number): Run[] {
  return decodeRunlist(record.bytes, attr.mappingPairsOffset, attr.recordOffset + attr.length, attr.lowestVcn, attr.highestVcn, {
    recordNumber: record.header.recordNumber,
    volumeByteOffset: record.volumeByteOffset,
    nrClusters,
  });
}

/** Runs gathered from several extents must follow each other without gaps or overlaps. */
function checkContiguousVcns(runs: Run[], what: string, byteOffset: number): void {
  let vcn = 0;
  for (const r of runs) {
    if (r.vcn !== vcn) {
      throw new SnapcloneError('NTFS_BAD_RUNLIST', `${what}: its extents do not follow each other`, {
        byteOffset,
        expected: `a run at VCN ${vcn}`,
        actual: `a run at VCN ${r.vcn}`,
        hint: 'the MFT is damaged: run chkdsk /f on Windows',
      });
    }
    vcn += r.length;
  }
}

export { type Run } from './runlist.js';
