// The NTFS boot sector (sector 0 of the volume): geometry, $MFT location and record sizes.
// Spec: docs/spec/ntfsclone-format.md §3-4 (what ntfsclone and libntfs-3g read and check).

import { viewOf } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';

// Field offsets (packed little-endian, unaligned).
const OFF_OEM_ID = 0x03; //               "NTFS    "
const OFF_BYTES_PER_SECTOR = 0x0b; //     le16
const OFF_SECTORS_PER_CLUSTER = 0x0d; //  u8, 2^(256-x) when x > 0x80
const OFF_TOTAL_SECTORS = 0x28; //        le64
const OFF_MFT_LCN = 0x30; //              le64
const OFF_MFTMIRR_LCN = 0x38; //          le64
const OFF_CLUSTERS_PER_MFT_RECORD = 0x40; // s8: clusters if > 0, else 2^-x bytes
const OFF_CLUSTERS_PER_INDEX = 0x44; //   s8, same encoding
const OFF_SERIAL_NUMBER = 0x48; //        le64
const OFF_END_MARKER = 0x1fe; //          0x55 0xAA

export const BOOT_SECTOR_BYTES = 512;
const NTFS_OEM_ID = 'NTFS    ';
/** ntfsclone and libntfs-3g refuse clusters larger than 2 MiB. */
export const MAX_CLUSTER_SIZE = 2 * 1024 * 1024;

export interface BootSector {
  bytesPerSector: number;
  sectorsPerCluster: number;
  clusterSize: number;
  /** Sectors in the volume, not counting the backup boot sector after them. */
  totalSectors: number;
  /** nr_clusters: floor(totalSectors / sectorsPerCluster). */
  nrClusters: number;
  mftLcn: number;
  mftMirrLcn: number;
  mftRecordSize: number;
  indexRecordSize: number;
  serialNumber: bigint;
}

function notNtfs(message: string, byteOffset: number, expected: unknown, actual: unknown, hint?: string): SnapcloneError {
  return new SnapcloneError('NTFS_BAD_BOOT_SECTOR', message, { byteOffset, expected, actual, hint });
}

/** 2^(256-x) for x > 0x80 (clusters of 128 KiB and more on 512-byte sectors), x itself otherwise. */
export function decodeSectorsPerCluster(raw: number): number {
  return raw > 0x80 ? 2 ** (256 - raw) : raw;
}

/** Record sizes: a positive signed byte counts clusters, a negative one is log2 of the byte size. */
export function decodeRecordSize(raw: number, clusterSize: number): number {
  const signed = raw > 0x7f ? raw - 256 : raw;
  return signed > 0 ? signed * clusterSize : signed < 0 && signed >= -31 ? 2 ** -signed : 0;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isInteger(Math.log2(n));
}

/**
 * Decodes and validates sector 0 of an NTFS volume. `deviceBytes`, when given, is the size of the
 * source: a volume larger than its device is refused as ntfsclone does. A sector 0 that holds a
 * partition table instead (MBR or GPT protective MBR) gets its own code, NTFS_WHOLE_DISK.
 */
export function decodeBootSector(sector: Uint8Array, deviceBytes?: number): BootSector {
  if (sector.byteLength < BOOT_SECTOR_BYTES) {
    throw new SnapcloneError('NTFS_NOT_NTFS', 'the source is too small to hold an NTFS boot sector', {
      byteOffset: 0,
      expected: `at least ${BOOT_SECTOR_BYTES} bytes`,
      actual: `${sector.byteLength} bytes`,
    });
  }
  const view = viewOf(sector);
  const oem = String.fromCharCode(...sector.subarray(OFF_OEM_ID, OFF_OEM_ID + 8));
  if (oem !== NTFS_OEM_ID) {
    const disk = describePartitionTable(sector);
    if (disk !== undefined) {
      throw new SnapcloneError('NTFS_WHOLE_DISK', 'this looks like a whole disk, not an NTFS partition: give a partition', {
        byteOffset: OFF_OEM_ID,
        expected: `"${NTFS_OEM_ID}"`,
        actual: disk,
        hint: 'pass the partition (for example /dev/sdb1, /dev/mapper/vg-lv1 after kpartx, or a partition extracted from the disk image)',
      });
    }
    throw new SnapcloneError('NTFS_NOT_NTFS', 'not an NTFS volume: the NTFS signature is missing', {
      byteOffset: OFF_OEM_ID,
      expected: `"${NTFS_OEM_ID}"`,
      actual: JSON.stringify(oem),
    });
  }
  const bytesPerSector = view.getUint16(OFF_BYTES_PER_SECTOR, true);
  if (bytesPerSector < 256 || bytesPerSector > 4096 || !isPowerOfTwo(bytesPerSector)) {
    throw notNtfs('bytes per sector is invalid', OFF_BYTES_PER_SECTOR, 'a power of two from 256 to 4096', bytesPerSector);
  }
  const rawSpc = view.getUint8(OFF_SECTORS_PER_CLUSTER);
  const sectorsPerCluster = decodeSectorsPerCluster(rawSpc);
  if (!isPowerOfTwo(sectorsPerCluster) || (rawSpc > 0x80 && rawSpc < 0xf4)) {
    throw notNtfs('sectors per cluster is invalid', OFF_SECTORS_PER_CLUSTER, '1..128 or 0xF4..0xFF (2^(256-x))', `0x${rawSpc.toString(16)}`);
  }
  const clusterSize = bytesPerSector * sectorsPerCluster;
  if (clusterSize > MAX_CLUSTER_SIZE) {
    throw notNtfs(`cluster size ${clusterSize} is too large`, OFF_SECTORS_PER_CLUSTER, `at most ${MAX_CLUSTER_SIZE} bytes`, clusterSize);
  }
  const totalBig = view.getBigUint64(OFF_TOTAL_SECTORS, true);
  // 2^53 bytes is 8 PiB: far beyond any volume; it keeps every byte offset an exact number.
  if (totalBig === 0n || totalBig * BigInt(bytesPerSector) > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw notNtfs('total sectors is invalid', OFF_TOTAL_SECTORS, `1 .. ${Math.floor(Number.MAX_SAFE_INTEGER / bytesPerSector)}`, totalBig);
  }
  const totalSectors = Number(totalBig);
  const nrClusters = Math.floor(totalSectors / sectorsPerCluster);
  if (nrClusters === 0) {
    throw notNtfs('the volume holds no whole cluster', OFF_TOTAL_SECTORS, `at least ${sectorsPerCluster} sectors`, totalSectors);
  }
  const mftLcn = readLcn(view, OFF_MFT_LCN, nrClusters, '$MFT');
  const mftMirrLcn = readLcn(view, OFF_MFTMIRR_LCN, nrClusters, '$MFTMirr');
  const rawRecord = view.getUint8(OFF_CLUSTERS_PER_MFT_RECORD);
  const mftRecordSize = decodeRecordSize(rawRecord, clusterSize);
  if (!isPowerOfTwo(mftRecordSize) || mftRecordSize < 256 || mftRecordSize > 65536 || mftRecordSize < bytesPerSector) {
    throw notNtfs('MFT record size is invalid', OFF_CLUSTERS_PER_MFT_RECORD, 'a power of two from 256 to 65536 bytes, at least one sector', `raw 0x${rawRecord.toString(16)} = ${mftRecordSize} bytes`);
  }
  const rawIndex = view.getUint8(OFF_CLUSTERS_PER_INDEX);
  const indexRecordSize = decodeRecordSize(rawIndex, clusterSize);
  if (!isPowerOfTwo(indexRecordSize) || indexRecordSize < 256 || indexRecordSize > 65536 * 32) {
    throw notNtfs('index record size is invalid', OFF_CLUSTERS_PER_INDEX, 'a power of two of at least 256 bytes', `raw 0x${rawIndex.toString(16)} = ${indexRecordSize} bytes`);
  }
  if (deviceBytes !== undefined && deviceBytes < nrClusters * clusterSize) {
    throw new SnapcloneError('NTFS_DEVICE_TOO_SMALL', 'the NTFS volume is bigger than the device that holds it', {
      expected: `at least ${nrClusters * clusterSize} bytes (${nrClusters} clusters of ${clusterSize})`,
      actual: `${deviceBytes} bytes`,
      hint: 'the partition table may be corrupt, or the device was cut short (a partial copy?)',
    });
  }
  return {
    bytesPerSector,
    sectorsPerCluster,
    clusterSize,
    totalSectors,
    nrClusters,
    mftLcn,
    mftMirrLcn,
    mftRecordSize,
    indexRecordSize,
    serialNumber: view.getBigUint64(OFF_SERIAL_NUMBER, true),
  };
}

function readLcn(view: DataView, byteOffset: number, nrClusters: number, what: string): number {
  const lcn = view.getBigInt64(byteOffset, true);
  if (lcn < 0n || lcn >= BigInt(nrClusters)) {
    throw notNtfs(`the ${what} location is outside the volume`, byteOffset, `an LCN from 0 to ${nrClusters - 1}`, lcn);
  }
  return Number(lcn);
}

/**
 * When sector 0 is an MBR (or a GPT's protective MBR) rather than a boot sector, a short
 * description of it ("MBR with partitions at LBA 128, 2048"); undefined otherwise.
 */
export function describePartitionTable(sector: Uint8Array): string | undefined {
  if (sector.byteLength < 512 || sector[OFF_END_MARKER] !== 0x55 || sector[OFF_END_MARKER + 1] !== 0xaa) return undefined;
  const view = viewOf(sector);
  const starts: string[] = [];
  let gpt = false;
  for (let i = 0; i < 4; i++) {
    const entry = 446 + i * 16;
    const status = view.getUint8(entry);
    const type = view.getUint8(entry + 4);
    const lba = view.getUint32(entry + 8, true);
    const sectors = view.getUint32(entry + 12, true);
    if (type === 0) continue;
    if (status !== 0 && status !== 0x80) return undefined; // boot code, not a table
    if (lba === 0 || sectors === 0) return undefined;
    if (type === 0xee) gpt = true;
    starts.push(String(lba));
  }
  if (starts.length === 0) return undefined;
  return gpt ? 'a GPT disk (protective MBR)' : `an MBR disk with partitions at LBA ${starts.join(', ')}`;
}
