// The NTFS reader on real volumes (generated fixtures and Windows-made K2, K4) and on damaged
// copies: boot sector encodings and validation, fixups with 4096-byte sectors, a fragmented $MFT,
// $ATTRIBUTE_LIST extents, whole disks, and a fuzz run that flips bytes in the boot sector and the
// system records and accepts only SnapcloneErrors.

import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { SnapcloneError } from '../../src/core/errors.js';
import { MemoryReadAt } from '../../src/core/read-at.js';
import { SourceFile } from '../../src/io/source-file.js';
import { AT_ATTRIBUTE_LIST, AT_DATA, readAttributes } from '../../src/ntfs/attribute.js';
import { decodeAttributeList } from '../../src/ntfs/attribute-list.js';
import { decodeBootSector, decodeRecordSize, decodeSectorsPerCluster } from '../../src/ntfs/boot-sector.js';
import { computeSaveSet, walkClusters } from '../../src/ntfs/cluster-accounting.js';
import { decodeMftRecord, protectRecord } from '../../src/ntfs/mft-record.js';
import { decodeRunlist, LCN_HOLE } from '../../src/ntfs/runlist.js';
import { NtfsVolume } from '../../src/ntfs/volume.js';
import { fixtureVolume, haveWindowsVolumes, unpackWindowsDisk, windowsPartition } from '../helpers/ntfs-fixtures.js';
import { makeTempDir } from '../helpers/tmp.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SnapcloneError) return e.code;
    throw e;
  }
  return 'none';
}

async function asyncCodeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SnapcloneError) return e.code;
    throw e;
  }
  return 'none';
}

async function openFile(path: string): Promise<{ volume: NtfsVolume; close: () => Promise<void> }> {
  const f = await SourceFile.open(path);
  return { volume: await NtfsVolume.open(f), close: () => f.close() };
}

describe('boot sector', () => {
  it('decodes the encodings of cluster and record sizes', () => {
    expect(decodeSectorsPerCluster(8)).toBe(8);
    expect(decodeSectorsPerCluster(0x80)).toBe(128);
    expect(decodeSectorsPerCluster(0xf8)).toBe(256);
    expect(decodeSectorsPerCluster(0xf4)).toBe(4096);
    expect(decodeRecordSize(0xf6, 4096)).toBe(1024);
    expect(decodeRecordSize(0xf4, 2 << 20)).toBe(4096);
    expect(decodeRecordSize(0x02, 512)).toBe(1024);
    expect(decodeRecordSize(0x01, 4096)).toBe(4096);
  });

  it('reads 2 MiB clusters (0xF4) and 4096-byte sectors from real volumes', async () => {
    const c2m = await openFile(await fixtureVolume('c2m'));
    expect(c2m.volume.boot).toMatchObject({ bytesPerSector: 512, sectorsPerCluster: 4096, clusterSize: 2 << 20, mftRecordSize: 1024 });
    await c2m.close();
    const s4k = await openFile(await fixtureVolume('s4096'));
    expect(s4k.volume.boot).toMatchObject({ bytesPerSector: 4096, clusterSize: 4096, mftRecordSize: 4096 });
    // 4096-byte records carry 8 fixups (one per 512 bytes), checked when any record is read.
    const root = await s4k.volume.readRecord(5);
    expect(root.header.inUse).toBe(true);
    expect((await s4k.volume.volumeInformation()).majorVersion).toBe(3);
    await s4k.close();
  });

  it.skipIf(!haveWindowsVolumes())('reads K2 (Windows, 2 MiB clusters, $MFTMirr at LCN 1)', async () => {
    const k2 = await openFile(await windowsPartition('K2'));
    expect(k2.volume.boot).toMatchObject({ clusterSize: 2 << 20, nrClusters: 510, mftLcn: 170, mftMirrLcn: 1, indexRecordSize: 4096 });
    const vi = await k2.volume.volumeInformation();
    expect(vi).toMatchObject({ majorVersion: 3, minorVersion: 1, flags: 0x80, dirty: false });
    expect((await computeSaveSet(k2.volume)).inuse).toBe(20);
    await k2.close();
  });

  it('rejects absurd geometry, each field with its code', async () => {
    const sector = new Uint8Array((await readFile(await fixtureVolume('demo'))).subarray(0, 512));
    const patched = (patch: (b: Uint8Array, v: DataView) => void, deviceBytes?: number): string => {
      const b = sector.slice();
      patch(b, new DataView(b.buffer));
      return codeOf(() => decodeBootSector(b, deviceBytes));
    };
    expect(patched(() => {})).toBe('none');
    expect(patched((b) => b.set([0x4e, 0x54, 0x46, 0x53], 3))).toBe('none');
    expect(patched((b) => (b[3] = 0x58))).toBe('NTFS_NOT_NTFS');
    expect(patched((_b, v) => v.setUint16(0x0b, 100, true))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((_b, v) => v.setUint16(0x0b, 8192, true))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((b) => (b[0x0d] = 3))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((b) => (b[0x0d] = 0))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((b) => (b[0x0d] = 0xf3))).toBe('NTFS_BAD_BOOT_SECTOR'); // 8192 sectors: 4 MiB clusters
    expect(patched((b) => (b[0x0d] = 0x90))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((_b, v) => v.setBigUint64(0x28, 0n, true))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((_b, v) => v.setBigUint64(0x28, 1n << 60n, true))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((_b, v) => v.setBigUint64(0x28, 4n, true))).toBe('NTFS_BAD_BOOT_SECTOR'); // less than a cluster
    expect(patched((_b, v) => v.setBigInt64(0x30, 1n << 40n, true))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((_b, v) => v.setBigInt64(0x38, -1n, true))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((b) => (b[0x40] = 0))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched((b) => (b[0x40] = 0xe0))).toBe('NTFS_BAD_BOOT_SECTOR'); // 2^32-byte records
    expect(patched((b) => (b[0x44] = 0))).toBe('NTFS_BAD_BOOT_SECTOR');
    expect(patched(() => {}, 1000)).toBe('NTFS_DEVICE_TOO_SMALL');
    expect(codeOf(() => decodeBootSector(new Uint8Array(100)))).toBe('NTFS_NOT_NTFS');
    expect(codeOf(() => decodeBootSector(new Uint8Array(512)))).toBe('NTFS_NOT_NTFS');
  });

  it.skipIf(!haveWindowsVolumes())('says "whole disk" for an MBR disk given instead of its partition', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const disk = await unpackWindowsDisk('K4', dir);
      const f = await SourceFile.open(disk);
      expect(await asyncCodeOf(NtfsVolume.open(f))).toBe('NTFS_WHOLE_DISK');
      await f.close();
    } finally {
      await cleanup();
    }
  });
});

describe('MFT records, attributes and runlists', () => {
  it('applies fixups and rejects torn records, bad signatures and bad update sequences', async () => {
    const bytes = new Uint8Array(await readFile(await fixtureVolume('demo')));
    const volume = await NtfsVolume.open(new MemoryReadAt(bytes));
    const offset = volume.recordVolumeOffset(5);
    const raw = (): Uint8Array => bytes.slice(offset, offset + 1024);
    expect(decodeMftRecord(raw(), 5, offset).inUse).toBe(true);
    const torn = raw();
    torn[1022] ^= 0xff;
    const e = (() => {
      try {
        decodeMftRecord(torn, 5, offset);
      } catch (x) {
        return x as SnapcloneError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('NTFS_BAD_FIXUP');
    expect(e?.byteOffset).toBe(offset + 1022);
    const magic = raw();
    magic[0] = 0x42;
    expect(codeOf(() => decodeMftRecord(magic, 5, offset))).toBe('NTFS_BAD_RECORD');
    const count = raw();
    count[6] = 9;
    expect(codeOf(() => decodeMftRecord(count, 5, offset))).toBe('NTFS_BAD_FIXUP');
    const usaOff = raw();
    usaOff[4] = 0xff;
    usaOff[5] = 0x01;
    expect(codeOf(() => decodeMftRecord(usaOff, 5, offset))).toBe('NTFS_BAD_FIXUP');
    // protectRecord is the inverse of the fixups.
    const rec = raw();
    decodeMftRecord(rec, 5, offset);
    protectRecord(rec);
    expect(rec).toEqual(raw());
    // A damaged attribute length.
    const attrLen = raw();
    const h = decodeMftRecord(attrLen, 5, offset);
    new DataView(attrLen.buffer).setUint32(h.attrsOffset + 4, 4, true);
    expect(codeOf(() => readAttributes(attrLen, h, offset))).toBe('NTFS_BAD_ATTRIBUTE');
    new DataView(attrLen.buffer).setUint32(h.attrsOffset + 4, 0x10000, true);
    expect(codeOf(() => readAttributes(attrLen, h, offset))).toBe('NTFS_BAD_ATTRIBUTE');
  });

  it('decodes runlists with sparse runs and negative deltas, and rejects corrupt ones', () => {
    const ctx = { recordNumber: 1, volumeByteOffset: 0, nrClusters: 1000 };
    // 16 clusters at 100, 8 sparse, 4 at 100-60 = 40, end.
    const pairs = Uint8Array.from([0x11, 16, 100, 0x01, 8, 0x11, 4, 0xc4, 0x00]);
    expect(decodeRunlist(pairs, 0, pairs.length, 0, 27, ctx)).toEqual([
      { vcn: 0, lcn: 100, length: 16 },
      { vcn: 16, lcn: LCN_HOLE, length: 8 },
      { vcn: 24, lcn: 40, length: 4 },
    ]);
    const run = (bytes: number[], highest = 0, nr = 1000): string =>
      codeOf(() => decodeRunlist(Uint8Array.from(bytes), 0, bytes.length, 0, highest, { ...ctx, nrClusters: nr }));
    expect(run([0x11, 16, 100, 0])).toBe('none');
    expect(run([0x11, 16, 100, 0], 14)).toBe('NTFS_BAD_RUNLIST'); // does not end at highest_vcn
    expect(run([0x11, 16, 100])).toBe('NTFS_BAD_RUNLIST'); // no terminator
    expect(run([0x11, 16])).toBe('NTFS_BAD_RUNLIST'); // cut short
    expect(run([0x10, 100, 0])).toBe('NTFS_BAD_RUNLIST'); // length size 0
    expect(run([0x19, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100, 0])).toBe('NTFS_BAD_RUNLIST');
    expect(run([0x11, 0, 100, 0])).toBe('NTFS_BAD_RUNLIST'); // zero length
    expect(run([0x11, 0xf0, 100, 0])).toBe('NTFS_BAD_RUNLIST'); // negative length
    expect(run([0x11, 16, 0x9c, 0])).toBe('NTFS_BAD_RUNLIST'); // LCN -100
    expect(run([0x11, 16, 100, 0], 0, 110)).toBe('NTFS_RUN_OUT_OF_RANGE');
    expect(run([0x41, 1, 0, 0, 0, 0x10, 0])).toBe('NTFS_RUN_OUT_OF_RANGE');
    expect(run([0x81, 1, 0, 0, 0, 0, 0, 0, 0, 0x40, 0])).toBe('NTFS_BAD_RUNLIST'); // LCN beyond 2^53
  });

  it('rejects damaged attribute lists', () => {
    expect(codeOf(() => decodeAttributeList(Uint8Array.from([0x80, 0, 0, 0, 0x04, 0, 0, 0x1a, ...new Array(24).fill(0)]), 9, 0))).toBe('NTFS_BAD_ATTRIBUTE_LIST');
    expect(codeOf(() => decodeAttributeList(Uint8Array.from([0x80, 0, 0, 0, 0xff, 0, 0, 0x1a, ...new Array(24).fill(0)]), 9, 0))).toBe('NTFS_BAD_ATTRIBUTE_LIST');
    expect(codeOf(() => decodeAttributeList(Uint8Array.from([0x80, 0, 0, 0, 0x20, 0, 9, 0x1a, ...new Array(24).fill(0)]), 9, 0))).toBe('NTFS_BAD_ATTRIBUTE_LIST');
    expect(decodeAttributeList(new Uint8Array(8), 9, 0)).toEqual([]); // zero padding
  });

  it('reads a fragmented $MFT and a stream continued in $ATTRIBUTE_LIST extents', async () => {
    const many = await openFile(await fixtureVolume('c4k-many'));
    expect(many.volume.mft.runs.length).toBeGreaterThan(10);
    expect(many.volume.recordCount).toBeGreaterThan(3000);
    const set = await computeSaveSet(many.volume); // the MFT walk agrees with $Bitmap
    expect(set.checked).toBe(true);
    await many.close();

    const c512 = await openFile(await fixtureVolume('c512'));
    const v = c512.volume;
    let found = false;
    for (let n = 16; n < v.recordCount && !found; n++) {
      let r;
      try {
        r = await v.readRecord(n);
      } catch {
        continue; // free records without a FILE signature
      }
      if (!r.header.inUse || r.header.isExtent || !r.attrs.some((a) => a.type === AT_ATTRIBUTE_LIST)) continue;
      const pieces = await v.streamPieces(r, AT_DATA, '');
      if (pieces.length < 2) continue;
      found = true;
      expect(pieces.some((p) => p.record.header.recordNumber !== n)).toBe(true); // an extent record
      expect(pieces.map((p) => p.attr.lowestVcn)).toEqual([...pieces.map((p) => p.attr.lowestVcn)].sort((a, b) => a - b));
      expect(pieces[1]!.attr.lowestVcn).toBeGreaterThan(0);
    }
    expect(found).toBe(true);
    await c512.close();
  });
});

describe('hostile volumes', () => {
  it('a fuzz run over the boot sector and system records yields only SnapcloneErrors', async () => {
    const bytes = new Uint8Array(await readFile(await fixtureVolume('demo')));
    const volume = await NtfsVolume.open(new MemoryReadAt(bytes));
    const rs = volume.boot.mftRecordSize;
    const regions: [number, number][] = [
      [0, 512],
      [volume.recordVolumeOffset(0), 16 * rs],
      [volume.boot.mftMirrLcn * volume.boot.clusterSize, 4 * rs],
    ];
    let x = 12345;
    const rand = (): number => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x;
    };
    const codes = new Map<string, number>();
    for (let iter = 0; iter < 150; iter++) {
      const saved: [number, number][] = [];
      const flips = 1 + (rand() % 6);
      for (let k = 0; k < flips; k++) {
        const [start, len] = regions[rand() % regions.length]!;
        const at = start + (rand() % len);
        saved.push([at, bytes[at]!]);
        bytes[at] = rand() & 0xff;
      }
      let code = 'none';
      try {
        const v = await NtfsVolume.open(new MemoryReadAt(bytes));
        await v.volumeInformation();
        await computeSaveSet(v);
      } catch (e) {
        if (!(e instanceof SnapcloneError)) throw e;
        code = e.code;
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
      for (const [at, b] of saved.reverse()) bytes[at] = b;
    }
    // The run must have hit real damage, not only harmless bytes.
    expect([...codes.keys()].filter((c) => c !== 'none').length).toBeGreaterThan(3);
  });

  it('walkClusters refuses a cluster referenced twice', async () => {
    const bytes = new Uint8Array(await readFile(await fixtureVolume('demo')));
    const v = await NtfsVolume.open(new MemoryReadAt(bytes));
    // Point $Bitmap's (record 6) runlist at $MFT's first cluster: both now claim it.
    const r = await v.readRecord(6);
    const data = r.attrs.find((a) => a.type === AT_DATA)!;
    const pairs = r.bytes.subarray(data.mappingPairsOffset);
    const header = pairs[0]!;
    const lenSize = header & 0xf;
    const offSize = header >> 4;
    const lcnBytes = pairs.subarray(1 + lenSize, 1 + lenSize + offSize);
    let lcn = v.boot.mftLcn;
    for (let i = 0; i < offSize; i++) {
      lcnBytes[i] = lcn & 0xff;
      lcn = Math.floor(lcn / 256);
    }
    protectRecord(r.bytes);
    bytes.set(r.bytes, r.volumeByteOffset);
    expect(await asyncCodeOf(walkClusters(await NtfsVolume.open(new MemoryReadAt(bytes))))).toBe('NTFS_CLUSTER_REFERENCED_TWICE');
  });
});

describe('streams', () => {
  it('reads zeros past initialized_size and in sparse runs, and refuses unmapped VCNs', async () => {
    const { readStream } = await import('../../src/ntfs/stream-reader.js');
    const disk = new Uint8Array(16 * 512).map((_, i) => 1 + (i % 250));
    const src = new MemoryReadAt(disk);
    const stream = {
      runs: [
        { vcn: 0, lcn: 4, length: 2 },
        { vcn: 2, lcn: LCN_HOLE, length: 1 },
        { vcn: 3, lcn: 1, length: 1 },
      ],
      dataSize: 4 * 512,
      initializedSize: 3 * 512 + 100,
      what: 'test',
    };
    const out = new Uint8Array(4 * 512).fill(0xee);
    await readStream(src, 512, stream, 0, out);
    expect(out.subarray(0, 1024)).toEqual(disk.subarray(4 * 512, 6 * 512));
    expect(out.subarray(1024, 1536).every((b) => b === 0)).toBe(true); // hole
    expect(out.subarray(1536, 1636)).toEqual(disk.subarray(512, 612));
    expect(out.subarray(1636).every((b) => b === 0)).toBe(true); // past initialized_size
    const short = { ...stream, runs: stream.runs.slice(0, 1), initializedSize: 4 * 512 };
    expect(await asyncCodeOf(readStream(src, 512, short, 0, new Uint8Array(2048)))).toBe('NTFS_STREAM_NOT_MAPPED');
  });

  it('refuses a system file whose runlist points outside the volume', async () => {
    const bytes = new Uint8Array(await readFile(await fixtureVolume('demo')));
    const v = await NtfsVolume.open(new MemoryReadAt(bytes));
    const r = await v.readRecord(6); // $Bitmap
    const data = r.attrs.find((a) => a.type === AT_DATA)!;
    const at = data.mappingPairsOffset;
    const lengthSize = r.bytes[at]! & 0xf;
    // Rewrite the first pair as: 1 cluster at LCN nr_clusters (4-byte offset field).
    const pair = [0x41, 1, ...[0, 1, 2, 3].map((i) => (v.nrClusters >> (8 * i)) & 0xff), 0];
    expect(lengthSize).toBeGreaterThan(0);
    r.bytes.set(pair, at);
    protectRecord(r.bytes);
    bytes.set(r.bytes, r.volumeByteOffset);
    const damaged = await NtfsVolume.open(new MemoryReadAt(bytes));
    expect(await asyncCodeOf(computeSaveSet(damaged))).toBe('NTFS_RUN_OUT_OF_RANGE');
  });
});
