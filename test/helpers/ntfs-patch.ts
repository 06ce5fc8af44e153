// Small patch helpers that damage a volume image on purpose, the way the spec's harness does:
// set the dirty flag, register a bad cluster in $BadClus:$Bad, flip $Bitmap bits. Records are read
// with snapclone's reader, patched with fixups undone, re-protected, and written back to $MFT and
// (for records 0-3) to $MFTMirr, so that libntfs-3g still mounts the result.

import { SourceFile } from '../../src/io/source-file.js';
import { NtfsVolume, MFT_RECORD_BADCLUS, MFT_RECORD_VOLUME, type MftRecord } from '../../src/ntfs/volume.js';
import { AT_DATA, AT_VOLUME_INFORMATION } from '../../src/ntfs/attribute.js';
import { protectRecord } from '../../src/ntfs/mft-record.js';
import { readStream } from '../../src/ntfs/stream-reader.js';
import { viewOf } from '../../src/core/bytes.js';

async function withVolume<T>(path: string, fn: (v: NtfsVolume, f: SourceFile) => Promise<T>): Promise<T> {
  const f = await SourceFile.open(path, { writable: true });
  try {
    return await fn(await NtfsVolume.open(f), f);
  } finally {
    await f.close();
  }
}

/** Writes a patched (fixups applied) record back, to $MFT and, for records 0-3, to $MFTMirr. */
async function writeRecord(v: NtfsVolume, f: SourceFile, r: MftRecord): Promise<void> {
  const bytes = r.bytes.slice();
  protectRecord(bytes);
  await f.writeAt(bytes, r.volumeByteOffset);
  const n = r.header.recordNumber;
  if (n < 4) await f.writeAt(bytes, v.boot.mftMirrLcn * v.boot.clusterSize + n * v.boot.mftRecordSize);
}

/** Sets (or clears) $Volume flags bits. */
export async function setVolumeFlags(path: string, flags: number): Promise<void> {
  await withVolume(path, async (v, f) => {
    const r = await v.readRecord(MFT_RECORD_VOLUME);
    const a = r.attrs.find((x) => x.type === AT_VOLUME_INFORMATION);
    if (!a) throw new Error('no $VOLUME_INFORMATION');
    viewOf(r.bytes).setUint16(a.valueOffset + 10, flags, true);
    await writeRecord(v, f, r);
  });
}

/** Reads the bit for `lcn` in $Bitmap, and optionally sets it to `value`. */
export async function bitmapBit(path: string, lcn: number, value?: boolean): Promise<boolean> {
  return withVolume(path, async (v, f) => {
    const s = await v.bitmapStream();
    const byte = new Uint8Array(1);
    await readStream(v.source, v.clusterSize, s, lcn >>> 3, byte);
    const old = (((byte[0] as number) >> (lcn & 7)) & 1) === 1;
    if (value !== undefined) {
      // Locate the byte on disk through the runlist.
      const vcn = Math.floor((lcn >>> 3) / v.clusterSize);
      const run = s.runs.find((r) => vcn >= r.vcn && vcn < r.vcn + r.length);
      if (!run || run.lcn < 0) throw new Error('bitmap byte not mapped');
      const at = run.lcn * v.clusterSize + ((lcn >>> 3) - run.vcn * v.clusterSize);
      byte[0] = value ? (byte[0] as number) | (1 << (lcn & 7)) : (byte[0] as number) & ~(1 << (lcn & 7));
      await f.writeAt(byte, at);
    }
    return old;
  });
}

/** The first cluster at or after `from` that $Bitmap marks free. */
export async function findFreeCluster(path: string, from: number): Promise<number> {
  return withVolume(path, async (v) => {
    const s = await v.bitmapStream();
    const bm = new Uint8Array(Math.ceil(v.nrClusters / 8));
    await readStream(v.source, v.clusterSize, s, 0, bm);
    for (let c = from; c < v.nrClusters; c++) if (!((bm[c >>> 3]! >> (c & 7)) & 1)) return c;
    throw new Error('no free cluster');
  });
}

/**
 * Registers cluster `lcn` (which must be free) as bad: $BadClus:$Bad becomes sparse / 1 cluster at
 * lcn / sparse, and the cluster's $Bitmap bit is set, as chkdsk would leave it.
 */
export async function addBadCluster(path: string, lcn: number): Promise<void> {
  await withVolume(path, async (v, f) => {
    const r = await v.readRecord(MFT_RECORD_BADCLUS);
    const a = r.attrs.find((x) => x.type === AT_DATA && x.name === '$Bad');
    if (!a || !a.nonResident) throw new Error('no non-resident $Bad');
    const total = a.highestVcn + 1;
    const pairs = [...encodePair(lcn, null), ...encodePair(1, lcn), ...encodePair(total - lcn - 1, null), 0];
    const newLength = Math.ceil((a.mappingPairsOffset - a.recordOffset + pairs.length) / 8) * 8;
    const growth = newLength - a.length;
    const view = viewOf(r.bytes);
    const end = r.header.bytesInUse;
    if (end + growth > r.bytes.byteLength) throw new Error('record full');
    // Shift what follows the attribute, then write the new pairs and lengths.
    r.bytes.copyWithin(a.recordOffset + newLength, a.recordOffset + a.length, end);
    r.bytes.fill(0, a.mappingPairsOffset, a.recordOffset + newLength);
    r.bytes.set(pairs, a.mappingPairsOffset);
    view.setUint32(a.recordOffset + 4, newLength, true);
    view.setUint32(0x18, end + growth, true);
    await writeRecord(v, f, r);
  });
  await bitmapBit(path, lcn, true);
}

/** One mapping pair: a length and an LCN delta from 0 (null for a sparse run). */
function encodePair(length: number, lcn: number | null): number[] {
  const le = (n: number): number[] => {
    const out: number[] = [];
    do {
      out.push(n & 0xff);
      n = Math.floor(n / 256);
    } while (n > 0 || ((out[out.length - 1] as number) & 0x80) !== 0);
    return out;
  };
  const l = le(length);
  const o = lcn === null ? [] : le(lcn);
  return [(o.length << 4) | l.length, ...l, ...o];
}
