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

/**
 * Makes $MFT's own runlist continue in an extent record, as on a volume whose $MFT is too
 * fragmented for record 0: record 0 gets an $ATTRIBUTE_LIST, its $DATA keeps VCNs 0..splitVcn-1,
 * and free record `extent` (inside the first piece) becomes an extent of record 0 holding $DATA
 * from VCN splitVcn. The clusters do not move, so $Bitmap stays consistent. Needs $MFT's $DATA in
 * one run in record 0 with the attributes mkntfs writes ($SI, $FILE_NAME, $DATA, $BITMAP).
 */
export async function splitMftDataIntoExtent(path: string, splitVcn: number, extent: number): Promise<void> {
  await withVolume(path, async (v, f) => {
    const r0 = await v.readRecord(0);
    const run = v.mft.runs[0];
    if (v.mft.runs.length !== 1 || !run || splitVcn >= run.length) throw new Error('needs a single $MFT run longer than splitVcn');
    const data = r0.attrs.find((a) => a.type === AT_DATA && a.name === '')!;
    const view0 = viewOf(r0.bytes);
    const seq0 = view0.getUint16(0x10, true);

    // The extent record: in use, base = record 0, one $DATA piece from splitVcn.
    const rawExt = new Uint8Array(v.boot.mftRecordSize);
    await v.readRawRecords(extent, 1, rawExt);
    const ext = v.decodeRecord(rawExt, extent);
    const ve = viewOf(ext.bytes);
    const seqE = ve.getUint16(0x10, true);
    const ao = ext.header.attrsOffset;
    ext.bytes.fill(0, ao);
    ext.bytes.set(r0.bytes.subarray(data.recordOffset, data.recordOffset + 64), ao); // non-resident header
    ve.setUint16(ao + 0x0e, 0, true); // instance 0
    ve.setBigInt64(ao + 0x10, BigInt(splitVcn), true); // lowest_vcn
    ve.setBigInt64(ao + 0x18, BigInt(run.length - 1), true); // highest_vcn
    ve.setUint16(ao + 0x20, 0x40, true); // mapping pairs right after the header
    for (const off of [0x28, 0x30, 0x38]) ve.setBigInt64(ao + off, 0n, true); // sizes: first piece only
    const pairs = [...encodePair(run.length - splitVcn, run.lcn + splitVcn), 0];
    ext.bytes.set(pairs, ao + 0x40);
    const extLen = Math.ceil((0x40 + pairs.length) / 8) * 8;
    ve.setUint32(ao + 4, extLen, true);
    ve.setUint32(ao + extLen, 0xffffffff, true);
    ve.setUint32(0x18, ao + extLen + 8, true); // bytes in use
    ve.setUint16(0x16, 0x0001, true); // in use
    ve.setBigUint64(0x20, (BigInt(seq0) << 48n) | 0n, true); // base: record 0
    ve.setUint16(0x28, 1, true); // next attribute instance
    protectRecord(ext.bytes);
    await f.writeAt(ext.bytes, ext.volumeByteOffset);

    // Record 0: shorten $DATA to VCN splitVcn-1, then insert an $ATTRIBUTE_LIST after $SI.
    const pairs0 = [...encodePair(splitVcn, run.lcn), 0];
    r0.bytes.fill(0, data.mappingPairsOffset, data.recordOffset + data.length);
    r0.bytes.set(pairs0, data.mappingPairsOffset);
    view0.setBigInt64(data.recordOffset + 0x18, BigInt(splitVcn - 1), true);
    const entries: [number, number, number, number, number][] = r0.attrs.flatMap((a) => {
      const own: [number, number, number, number, number] = [a.type, 0, seq0, a.lowestVcn, a.instance];
      return a === data ? [own, [AT_DATA, extent, seqE, splitVcn, 0] as [number, number, number, number, number]] : [own];
    });
    const list = new Uint8Array(entries.length * 32);
    const lv = viewOf(list);
    entries.forEach(([type, rec, seq, vcn, inst], i) => {
      const o = i * 32;
      lv.setUint32(o, type, true);
      lv.setUint16(o + 4, 32, true);
      lv.setUint8(o + 7, 0x1a);
      lv.setBigInt64(o + 8, BigInt(vcn), true);
      lv.setBigUint64(o + 16, (BigInt(seq) << 48n) | BigInt(rec), true);
      lv.setUint16(o + 24, inst, true);
    });
    const listAttr = new Uint8Array(24 + list.byteLength);
    const la = viewOf(listAttr);
    la.setUint32(0, 0x20, true);
    la.setUint32(4, listAttr.byteLength, true);
    la.setUint16(0x0a, 0x18, true); // name offset
    la.setUint16(0x0e, view0.getUint16(0x28, true), true); // instance
    la.setUint32(0x10, list.byteLength, true);
    la.setUint16(0x14, 0x18, true);
    listAttr.set(list, 24);
    const si = r0.attrs[0]!;
    const insertAt = si.recordOffset + si.length;
    const end = r0.header.bytesInUse;
    r0.bytes.copyWithin(insertAt + listAttr.byteLength, insertAt, end);
    r0.bytes.set(listAttr, insertAt);
    view0.setUint32(0x18, end + listAttr.byteLength, true);
    view0.setUint16(0x28, view0.getUint16(0x28, true) + 1, true);
    await writeRecord(v, f, r0);

    // Mark the extent record used in $MFT:$BITMAP.
    const mftBitmap = (await v.nonResidentStream(0, 0xb0, '', '$MFT:$BITMAP'))!;
    const at = mftBitmap.runs[0]!.lcn * v.clusterSize + (extent >>> 3);
    const byte = new Uint8Array(1);
    await f.readAt(byte, at);
    byte[0] = byte[0]! | (1 << (extent & 7));
    await f.writeAt(byte, at);
  });
}

/** The number of the base record whose $FILE_NAME is `name` (the first one found). */
export async function findRecordByName(path: string, name: string): Promise<number> {
  return withVolume(path, async (v) => {
    for (let n = 16; n < v.recordCount; n++) {
      let r: MftRecord;
      try {
        r = await v.readRecord(n);
      } catch {
        continue;
      }
      if (!r.header.inUse || r.header.isExtent) continue;
      for (const a of r.attrs) {
        if (a.type !== 0x30 || a.nonResident) continue;
        const len = r.bytes[a.valueOffset + 0x40]!;
        let s = '';
        for (let i = 0; i < len; i++) s += String.fromCharCode(viewOf(r.bytes).getUint16(a.valueOffset + 0x42 + 2 * i, true));
        if (s === name) return n;
      }
    }
    throw new Error(`no record named ${name}`);
  });
}

/** Damages record `n` as a torn write does: the end of its first sector no longer matches. */
export async function tearRecord(path: string, n: number): Promise<void> {
  await withVolume(path, async (v, f) => {
    const at = v.recordVolumeOffset(n) + 510;
    const b = new Uint8Array(1);
    await f.readAt(b, at);
    b[0] = b[0]! ^ 0xff;
    await f.writeAt(b, at);
  });
}
