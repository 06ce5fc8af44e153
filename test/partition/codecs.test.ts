// The on-disk codecs against hex goldens (GUIDs, MBR entries, CHS, GPT header fields and attributes),
// and partition views: reads and writes by byte offset land where sfdisk says the partition is.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { makeTempDir } from '../helpers/tmp.js';
import { sfdiskCreate, sfdiskJson } from '../helpers/sfdisk.js';
import { readBytes, readFileLayout } from '../helpers/layouts.js';
import { HAVE_TESTDATA, testdataPath } from '../helpers/testdata.js';
import { SourceFile } from '../../src/io/source-file.js';
import { MemoryReadAt, SliceWriteAt } from '../../src/core/read-at.js';
import { viewOf } from '../../src/core/bytes.js';
import { guidFromText, guidToText } from '../../src/partition/guid.js';
import { chsFromLba, decodeMbrSector, encodeMbrEntry } from '../../src/partition/mbr.js';
import { gptAttributesText } from '../../src/partition/gpt-entry.js';
import { computeHeaderCrc, decodeGptHeader, GPT_HEADER_FIELD_OFFSETS as F, patchGptHeader } from '../../src/partition/gpt-header.js';
import { findPartition, partitionByteRange, partitionReader, partitionView, partitionWriter } from '../../src/partition/index.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => Number.parseInt(b, 16)));
}

describe('GUIDs', () => {
  it('are mixed-endian on disk and upper-case text', () => {
    const onDisk = hex('a2a0d0ebe5b93344 87c068b6b72699c7');
    expect(guidToText(onDisk)).toBe('EBD0A0A2-B9E5-4433-87C0-68B6B72699C7');
    expect(guidFromText('ebd0a0a2-b9e5-4433-87c0-68b6b72699c7')).toEqual(onDisk);
    expect(() => guidFromText('EBD0A0A2-B9E5-4433-87C0-68B6B72699C')).toThrow(expect.objectContaining({ code: 'PT_BAD_GUID' }));
  });
});

describe('MBR entries', () => {
  it('decode and encode byte for byte (the first entry of the Windows EBR disk)', () => {
    const sector = new Uint8Array(512);
    const entry = hex('00 02 03 00 06 07 06 01 80 00 00 00 00 40 00 00');
    sector.set(entry, 446);
    const e = decodeMbrSector(sector).entries[0]!;
    expect(e).toEqual({
      slot: 0,
      bootIndicator: 0,
      type: 6,
      startChs: { head: 2, sector: 3, cylinder: 0 },
      endChs: { head: 7, sector: 6, cylinder: 1 },
      startLba: 128,
      sectorCount: 16384,
    });
    const out = new Uint8Array(512);
    encodeMbrEntry(out, e);
    expect(out.subarray(446, 462)).toEqual(entry);
  });

  it('CHS as sfdisk writes it, with the 1023/254/63 marker past cylinder 1023', () => {
    expect(chsFromLba(0)).toEqual({ cylinder: 0, head: 0, sector: 1 });
    expect(chsFromLba(16065)).toEqual({ cylinder: 1, head: 0, sector: 1 });
    // Golden: the two entries sfdisk 2.38 wrote for "start=2048, size=4096" and "start=16700000, size=2048,
    // type=7" on an 8 GiB file (xxd -s 446 -l 32).
    const golden = hex('0020 2100 8361 2100 0008 0000 0010 0000 00fe ffff 07fe ffff 60d2 fe00 0008 0000');
    const sector = new Uint8Array(512);
    const entries = [
      { start: 2048, count: 4096, type: 0x83 },
      { start: 16700000, count: 2048, type: 0x07 },
    ];
    entries.forEach((x, slot) =>
      encodeMbrEntry(sector, {
        slot,
        bootIndicator: 0,
        type: x.type,
        startChs: chsFromLba(x.start),
        endChs: chsFromLba(x.start + x.count - 1),
        startLba: x.start,
        sectorCount: x.count,
      }),
    );
    expect(sector.subarray(446, 478)).toEqual(golden);
  });
});

describe('GPT attributes', () => {
  it('are written as sfdisk writes them; bits 3-47 have no name', () => {
    expect(gptAttributesText(0n)).toBe('');
    expect(gptAttributesText(0b111n)).toBe('RequiredPartition NoBlockIOProtocol LegacyBIOSBootable');
    expect(gptAttributesText((1n << 48n) | (1n << 63n) | (1n << 10n))).toBe('GUID:48,63');
    expect(gptAttributesText(1n << 60n | 4n)).toBe('LegacyBIOSBootable GUID:60');
  });
});

describe.skipIf(!HAVE_TESTDATA)('the GPT header of the Windows VHD', () => {
  it('decodes to what sfdisk reports, and a patch keeps it valid', async () => {
    const vhd = new Uint8Array(await readFile(testdataPath('windows', 'recext_Shared.vhd')));
    const sector = vhd.subarray(512, 1024);
    const h = decodeGptHeader(sector, 512);
    expect(h).toMatchObject({
      revision: 0x10000,
      headerSize: 92,
      myLba: 1,
      alternateLba: 6143,
      firstUsableLba: 34,
      lastUsableLba: 6110,
      diskGuid: '5DA99F68-2C23-4601-86D6-67C150EBBA4E',
      entriesLba: 2,
      entryCount: 128,
      entrySize: 128,
    });
    expect(computeHeaderCrc(sector, 92)).toBe(h.headerCrc);
    const moved = patchGptHeader(sector, { alternateLba: 99999, lastUsableLba: 99966 });
    expect(decodeGptHeader(moved, 512)).toMatchObject({ alternateLba: 99999, lastUsableLba: 99966, firstUsableLba: 34 });
    expect(viewOf(moved).getUint32(F.headerCrc, true)).toBe(computeHeaderCrc(moved, 92));
    expect(moved.subarray(92)).toEqual(sector.subarray(92));
  });
});

describe('partition views', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    tmp = await makeTempDir('snapclone-ptview-');
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  it('write and read each partition where sfdisk says it is, and nowhere else', async () => {
    const file = join(tmp.dir, 'disk.img');
    await sfdiskCreate(file, 16 * 1024 * 1024, `label: dos\nstart=2048, size=2048\nstart=4096, type=5\n${file}5 : size=2048\n${file}6 : size=1024\n`);
    const layout = await readFileLayout(file);
    const disk = await SourceFile.open(file, { writable: true });
    try {
      for (const p of layout.partitions.filter((q) => q.kind !== 'extended')) {
        const view = partitionView(disk, p);
        expect(view.sizeBytes).toBe(p.sectorCount * 512);
        const marker = new TextEncoder().encode(`partition ${p.number} first sector`);
        await view.writeAt(marker, 0);
        await view.writeAt(Uint8Array.of(p.number), view.sizeBytes - 1);
        await expect(view.writeAt(Uint8Array.of(1, 2), view.sizeBytes - 1)).rejects.toMatchObject({ code: 'IO_WRITE_OUT_OF_RANGE' });
        const back = new Uint8Array(marker.length);
        expect(await view.readAt(back, 0)).toBe(marker.length);
        expect(back).toEqual(marker);
        expect(await view.readAt(new Uint8Array(10), view.sizeBytes - 1)).toBe(1);
      }
    } finally {
      await disk.close();
    }
    for (const o of (await sfdiskJson(file)).partitions) {
      if (o.type === '5') continue;
      const first = await readBytes(file, o.start * 512, 32);
      expect(new TextDecoder().decode(first)).toContain(`partition ${o.number} first sector`);
      expect((await readBytes(file, (o.start + o.size) * 512 - 1, 1))[0]).toBe(o.number);
    }
    // The EBRs survived: the writes stayed inside their partitions.
    expect((await readFileLayout(file)).partitions).toEqual(layout.partitions);
  });

  it('refuse partitions past the end of the disk and unknown numbers', async () => {
    const disk = new MemoryReadAt(new Uint8Array(1024 * 512));
    const p = { number: 1, kind: 'primary' as const, startLba: 1000, sectorCount: 100, sectorSize: 512, type: '83', tableLba: 0, entryIndex: 0 };
    expect(partitionByteRange(p)).toEqual({ byteOffset: 512000, byteLength: 51200 });
    expect(() => partitionReader(disk, p)).toThrow(expect.objectContaining({ code: 'PT_PARTITION_PAST_END' }));
    expect(() => partitionWriter(disk, p)).toThrow(expect.objectContaining({ code: 'PT_PARTITION_PAST_END' }));
    expect(() => findPartition({ partitions: [p] }, 2)).toThrow(expect.objectContaining({ code: 'PT_NO_SUCH_PARTITION' }));
    await expect(new SliceWriteAt(disk, 512, 512).writeAt(new Uint8Array(1), -1)).rejects.toMatchObject({ code: 'IO_WRITE_OUT_OF_RANGE' });
  });

  it.skipIf(!HAVE_TESTDATA)('reach the NTFS boot sector of a Windows disk at LBA 128', async () => {
    const { createGunzip } = await import('node:zlib');
    const { pipeline } = await import('node:stream/promises');
    const { createReadStream, createWriteStream } = await import('node:fs');
    const file = join(tmp.dir, 'ntfs.raw');
    await pipeline(createReadStream(testdataPath('windows', 'dfirntfs_ntfs_index.raw.gz')), createGunzip(), createWriteStream(file));
    const layout = await readFileLayout(file);
    const disk = await SourceFile.open(file);
    try {
      const boot = new Uint8Array(512);
      await partitionReader(disk, findPartition(layout, 1)).readAt(boot, 0);
      expect(new TextDecoder().decode(boot.subarray(3, 11))).toBe('NTFS    ');
    } finally {
      await disk.close();
    }
  });
});
