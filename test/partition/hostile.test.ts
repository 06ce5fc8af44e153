// Hostile and damaged tables: each one gets a coded error or a warning, never a crash, a hang or a
// huge allocation. Disks are made by sfdisk, read into memory and damaged there (or written back to a
// file where sfdisk is asked for its opinion too).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { makeTempDir } from '../helpers/tmp.js';
import { sfdiskCreate, sfdiskDump, sfdiskJson, sfdiskVerify } from '../helpers/sfdisk.js';
import { applyToBlankFile, readFileLayout, throughFile, toOracle } from '../helpers/layouts.js';
import { MemoryReadAt } from '../../src/core/read-at.js';
import { viewOf } from '../../src/core/bytes.js';
import { crc32Ieee } from '../../src/core/crc32-ieee.js';
import { computeHeaderCrc, GPT_HEADER_FIELD_OFFSETS as F } from '../../src/partition/gpt-header.js';
import { encodeMbrEntry, decodeMbrSector, entryByteOffset } from '../../src/partition/mbr.js';
import { planApply, readLayout, type DiskLayout } from '../../src/partition/index.js';
import { MAX_EBR_CHAIN } from '../../src/partition/dos-label.js';

const MiB = 1024 * 1024;
const HOSTILE = { timeout: 10_000 };

let tmp: { dir: string; cleanup: () => Promise<void> };
let dosImage: Uint8Array; // 16 MiB: p1, extended p2 with logicals 5, 6, 7
let gptImage: Uint8Array; // 16 MiB: three named partitions
let dosFile: string;
let gptFile: string;

beforeAll(async () => {
  tmp = await makeTempDir('snapclone-pthostile-');
  dosFile = join(tmp.dir, 'dos.img');
  await sfdiskCreate(
    dosFile,
    16 * MiB,
    `label: dos\nlabel-id: 0x0badf00d\nstart=2048, size=4096, type=83\nstart=8192, type=5\n${dosFile}5 : size=2048, type=83\n${dosFile}6 : size=4096, type=7\n${dosFile}7 : size=2048, type=82\n`,
  );
  dosImage = new Uint8Array(await readFile(dosFile));
  gptFile = join(tmp.dir, 'gpt.img');
  await sfdiskCreate(gptFile, 16 * MiB, 'label: gpt\nstart=2048, size=2048, name="one"\nsize=4096, name="two"\nsize=2048, name="three"\n');
  gptImage = new Uint8Array(await readFile(gptFile));
});
afterAll(async () => {
  await tmp.cleanup();
});

function copy(image: Uint8Array): Uint8Array {
  return image.slice();
}

function read(bytes: Uint8Array, options = {}): Promise<DiskLayout> {
  return readLayout(new MemoryReadAt(bytes), { captureBootArea: false, ...options });
}

function codes(l: DiskLayout): string[] {
  return l.warnings.map((w) => w.code);
}

/** EBR sectors of the dos image, in chain order. */
async function ebrLbas(): Promise<number[]> {
  return (await read(dosImage)).regions.filter((r) => r.role === 'ebr').map((r) => r.lba);
}

function setEntry(image: Uint8Array, lba: number, slot: number, fields: { type: number; startLba: number; sectorCount: number }): void {
  const sector = image.subarray(lba * 512, lba * 512 + 512);
  const e = decodeMbrSector(sector).entries[slot]!;
  encodeMbrEntry(sector, { ...e, ...fields });
}

describe('EBR chains', () => {
  it('a link back to an earlier EBR is PT_EBR_LOOP', HOSTILE, async () => {
    const bad = copy(dosImage);
    const [first, , last] = await ebrLbas();
    setEntry(bad, last!, 1, { type: 0x05, startLba: first! - 8192, sectorCount: 100 });
    await expect(read(bad)).rejects.toMatchObject({ code: 'PT_EBR_LOOP', byteOffset: last! * 512 });
  });

  it('an EBR linking to itself is PT_EBR_LOOP', HOSTILE, async () => {
    const bad = copy(dosImage);
    const [, second] = await ebrLbas();
    setEntry(bad, second!, 1, { type: 0x05, startLba: second! - 8192, sectorCount: 100 });
    await expect(read(bad)).rejects.toMatchObject({ code: 'PT_EBR_LOOP' });
  });

  it('a link outside the extended partition is PT_EBR_OUTSIDE_EXTENDED', HOSTILE, async () => {
    const bad = copy(dosImage);
    const [first] = await ebrLbas();
    setEntry(bad, first!, 1, { type: 0x05, startLba: 30000, sectorCount: 100 });
    await expect(read(bad)).rejects.toMatchObject({ code: 'PT_EBR_OUTSIDE_EXTENDED', byteOffset: first! * 512 + entryByteOffset(1) });
  });

  it(`a chain longer than ${MAX_EBR_CHAIN} EBRs is PT_EBR_CHAIN_TOO_LONG, quickly`, HOSTILE, async () => {
    const sectors = 4096;
    const bad = new Uint8Array(sectors * 512);
    bad.set(dosImage.subarray(0, 512));
    setEntry(bad, 0, 1, { type: 0x05, startLba: 1, sectorCount: sectors - 1 });
    // Every sector of the extended partition is an EBR with a 1-sector logical and a link to the next sector.
    for (let lba = 1; lba < sectors - 1; lba++) {
      bad[lba * 512 + 510] = 0x55;
      bad[lba * 512 + 511] = 0xaa;
      setEntry(bad, lba, 0, { type: 0x83, startLba: 0, sectorCount: 1 });
      setEntry(bad, lba, 1, { type: 0x05, startLba: lba, sectorCount: 1 });
    }
    await expect(read(bad)).rejects.toMatchObject({ code: 'PT_EBR_CHAIN_TOO_LONG' });
  });

  it('an EBR without its 0x55AA signature ends the chain with a warning (as Linux does)', HOSTILE, async () => {
    const bad = copy(dosImage);
    const [, second] = await ebrLbas();
    bad[second! * 512 + 511] = 0;
    const l = await read(bad);
    expect(codes(l)).toEqual(['PT_EBR_BAD_SIGNATURE']);
    expect(l.partitions.map((p) => p.number)).toEqual([1, 2, 5]);
    await expect(read(bad, { strict: true })).rejects.toMatchObject({ code: 'PT_EBR_BAD_SIGNATURE' });
  });

  it('a logical partition leaking out of its extended partition is a warning', HOSTILE, async () => {
    const bad = copy(dosImage);
    const [, , last] = await ebrLbas();
    setEntry(bad, last!, 0, { type: 0x82, startLba: 2048, sectorCount: 200000 });
    const l = await read(bad);
    expect(codes(l)).toContain('PT_LOGICAL_OUTSIDE_EXTENDED');
    expect(codes(l)).toContain('PT_PARTITION_PAST_END');
  });
});

describe('MBR entries', () => {
  it('a partition past the end of the disk is a warning; apply onto the same size refuses, a larger target works', HOSTILE, async () => {
    const bad = copy(dosImage);
    setEntry(bad, 0, 2, { type: 0x83, startLba: 32768, sectorCount: 10000 });
    const l = await readLayout(new MemoryReadAt(bad));
    expect(codes(l)).toEqual(['PT_PARTITION_PAST_END']);
    expect(l.warnings[0]!.byteOffset).toBe(16 * MiB);
    expect(() => planApply(l, 16 * MiB)).toThrow(expect.objectContaining({ code: 'PT_TARGET_TOO_SMALL', kind: 'refused' }));
    expect(planApply(l, 42768 * 512).requiredBytes).toBe(42768 * 512);
    await expect(read(bad, { strict: true })).rejects.toMatchObject({ code: 'PT_PARTITION_PAST_END' });
  });

  it('overlapping partitions are a warning, as sfdisk -V reports them', HOSTILE, async () => {
    const bad = copy(dosImage);
    setEntry(bad, 0, 2, { type: 0x83, startLba: 3000, sectorCount: 1000 });
    const file = join(tmp.dir, 'overlap.img');
    await writeFile(file, bad);
    const l = await read(bad);
    expect(codes(l)).toEqual(['PT_OVERLAP']);
    expect((await sfdiskVerify(file)).clean).toBe(false);
    expect(toOracle(l)).toEqual(await sfdiskJson(file));
  });

  it('boot indicators other than 0x00 and 0x80 mean "not a partition table" (a boot sector)', HOSTILE, async () => {
    const bad = copy(dosImage);
    bad[entryByteOffset(1)] = 0x12;
    await expect(read(bad)).rejects.toMatchObject({ code: 'PT_NO_TABLE', byteOffset: entryByteOffset(1) });
  });

  it('no signature, a blank disk, or a disk shorter than a sector', HOSTILE, async () => {
    await expect(read(new Uint8Array(4 * MiB))).rejects.toMatchObject({ code: 'PT_NO_TABLE' });
    await expect(read(dosImage.slice(0, 100))).rejects.toMatchObject({ code: 'PT_TRUNCATED' });
    await expect(read(new Uint8Array(0))).rejects.toMatchObject({ code: 'PT_TRUNCATED' });
  });

  it('a disk cut before its EBRs is PT_TRUNCATED', HOSTILE, async () => {
    await expect(read(dosImage.slice(0, 8192 * 512 + 100))).rejects.toMatchObject({ code: 'PT_TRUNCATED', byteOffset: 8192 * 512 });
  });
});

/** The primary (lba 1) or backup header of a 512-byte-sector image, with `change` applied and its CRC fixed. */
function mutateHeader(image: Uint8Array, which: 'primary' | 'backup', change: (v: DataView) => void, fixCrc = true): void {
  const lba = which === 'primary' ? 1 : image.byteLength / 512 - 1;
  const sector = image.subarray(lba * 512, lba * 512 + 512);
  const v = viewOf(sector);
  change(v);
  if (fixCrc) v.setUint32(F.headerCrc, computeHeaderCrc(sector, v.getUint32(F.headerSize, true)), true);
}

describe('GPT', () => {
  it('a damaged primary header is read from the backup with a warning, and apply writes both copies good', HOSTILE, async () => {
    const bad = copy(gptImage);
    mutateHeader(bad, 'primary', (v) => v.setUint8(F.diskGuid, v.getUint8(F.diskGuid) ^ 0xff), false);
    const file = join(tmp.dir, 'primary-bad.img');
    await writeFile(file, bad);
    const l = await readFileLayout(file);
    expect(codes(l)).toEqual(['PT_GPT_PRIMARY_BAD']);
    expect(l.warnings[0]!.message).toContain('PT_GPT_HEADER_CRC');
    // sfdisk agrees: it also falls back to the backup and lists the same partitions.
    expect((await sfdiskDump(file)).stderr).toContain('primary GPT table is corrupt');
    expect(toOracle(l)).toEqual(await sfdiskJson(file));
    // The rebuilt primary is exactly the one sfdisk wrote before the damage.
    const primary = l.regions.find((r) => r.role === 'gpt-primary-header')!;
    expect(primary.synthesized).toBe(true);
    expect(Buffer.from(primary.bytes).equals(Buffer.from(gptImage.subarray(512, 1024)))).toBe(true);
    const target = join(tmp.dir, 'primary-bad.applied.img');
    await applyToBlankFile(await throughFile(l), target, bad.byteLength);
    const v = await sfdiskVerify(target);
    expect(v.clean, v.output).toBe(true);
    expect(Buffer.from(await readFile(target)).equals(Buffer.from(gptImage))).toBe(true);
  });

  it('damaged primary entries (entry array CRC) fall back to the backup too', HOSTILE, async () => {
    const bad = copy(gptImage);
    bad[2 * 512 + 56] = (bad[2 * 512 + 56] as number) ^ 0x20; // a letter of partition 1's name
    const l = await read(bad);
    expect(codes(l)).toEqual(['PT_GPT_PRIMARY_BAD']);
    expect(l.warnings[0]!.message).toContain('PT_GPT_ENTRIES_CRC');
    expect(l.partitions[0]!.name).toBe('one');
  });

  it('a damaged backup is rebuilt from the primary with a warning', HOSTILE, async () => {
    const bad = copy(gptImage);
    mutateHeader(bad, 'backup', (v) => v.setUint32(F.entriesCrc, 1, true), false);
    const l = await readLayout(new MemoryReadAt(bad));
    expect(codes(l)).toEqual(['PT_GPT_BACKUP_BAD']);
    const backup = l.regions.find((r) => r.role === 'gpt-backup-header')!;
    expect(backup.synthesized).toBe(true);
    expect(Buffer.from(backup.bytes).equals(Buffer.from(gptImage.subarray(gptImage.byteLength - 512)))).toBe(true);
  });

  it('both headers damaged is an error with the primary\'s code (kind verify for a CRC)', HOSTILE, async () => {
    const bad = copy(gptImage);
    mutateHeader(bad, 'primary', (v) => v.setUint8(F.diskGuid, 1), false);
    mutateHeader(bad, 'backup', (v) => v.setUint8(F.diskGuid, 1), false);
    await expect(read(bad)).rejects.toMatchObject({ code: 'PT_GPT_HEADER_CRC', kind: 'verify', byteOffset: 512 + F.headerCrc });
  });

  it.each([
    ['an absurd entry count', 'PT_GPT_BAD_ENTRY_COUNT', (v: DataView) => v.setUint32(F.entryCount, 0x7fffffff, true)],
    ['zero entries', 'PT_GPT_BAD_ENTRY_COUNT', (v: DataView) => v.setUint32(F.entryCount, 0, true)],
    ['a 1 MiB entry array of 2 KiB entries', 'PT_GPT_BAD_ENTRY_COUNT', (v: DataView) => (v.setUint32(F.entrySize, 2048, true), v.setUint32(F.entryCount, 1024, true))],
    ['an entry size of 100', 'PT_GPT_BAD_ENTRY_SIZE', (v: DataView) => v.setUint32(F.entrySize, 100, true)],
    ['an entry size of 4 GiB - 1', 'PT_GPT_BAD_ENTRY_SIZE', (v: DataView) => v.setUint32(F.entrySize, 0xffffffff, true)],
    ['a header size of 60000', 'PT_GPT_BAD_HEADER_SIZE', (v: DataView) => v.setUint32(F.headerSize, 60000, true)],
    ['an LBA beyond 2^53', 'PT_LBA_TOO_LARGE', (v: DataView) => v.setBigUint64(F.lastUsableLba, 2n ** 60n, true)],
    ['first usable after last usable', 'PT_GPT_BAD_USABLE_RANGE', (v: DataView) => v.setBigUint64(F.firstUsableLba, 40000n, true)],
    ['entries inside the usable area', 'PT_GPT_BAD_ENTRIES_LBA', (v: DataView) => v.setBigUint64(F.entriesLba, 4000n, true)],
    ['entries past the end of the disk', 'PT_TRUNCATED', (v: DataView) => v.setBigUint64(F.entriesLba, 2n ** 40n, true)],
    ['a header that says it is elsewhere', 'PT_GPT_MY_LBA', (v: DataView) => v.setBigUint64(F.myLba, 7n, true)],
  ])('%s in both copies (CRC fixed) is %s', HOSTILE, async (_what, code, change) => {
    const bad = copy(gptImage);
    mutateHeader(bad, 'primary', change);
    mutateHeader(bad, 'backup', change);
    await expect(read(bad)).rejects.toMatchObject({ code });
    // One copy only: a warning naming the same code, and the other copy is used.
    const half = copy(gptImage);
    mutateHeader(half, 'primary', change);
    const l = await read(half);
    expect(codes(l)).toEqual(['PT_GPT_PRIMARY_BAD']);
    expect(l.warnings[0]!.message).toContain(code);
  });

  it('an entry that ends before it starts is PT_GPT_ENTRY_BAD_RANGE; a huge entry LBA is PT_LBA_TOO_LARGE', HOSTILE, async () => {
    for (const [endingLba, code] of [
      [10n, 'PT_GPT_ENTRY_BAD_RANGE'],
      [2n ** 63n, 'PT_LBA_TOO_LARGE'],
    ] as const) {
      const bad = copy(gptImage);
      for (const which of ['primary', 'backup'] as const) {
        const entriesLba = which === 'primary' ? 2 : bad.byteLength / 512 - 33;
        const entries = bad.subarray(entriesLba * 512, entriesLba * 512 + 128 * 128);
        viewOf(entries).setBigUint64(128 + 40, endingLba, true); // partition 2's EndingLBA
        mutateHeader(bad, which, (v) => v.setUint32(F.entriesCrc, crc32Ieee(entries), true));
      }
      await expect(read(bad)).rejects.toMatchObject({ code });
    }
  });

  it('a truncated GPT disk: backup missing and partitions past the end are warnings; apply needs the full size', HOSTILE, async () => {
    const cut = gptImage.slice(0, 5000 * 512);
    const l = await readLayout(new MemoryReadAt(cut));
    expect(codes(l)).toEqual(['PT_GPT_PMBR_SIZE', 'PT_GPT_BACKUP_MISSING', 'PT_PARTITION_PAST_END', 'PT_PARTITION_PAST_END']);
    expect(l.regions.some((r) => r.role === 'gpt-backup-header')).toBe(false);
    const saved = await throughFile(l);
    expect(() => planApply(saved, cut.byteLength)).toThrow(expect.objectContaining({ code: 'PT_TARGET_TOO_SMALL' }));
    const target = join(tmp.dir, 'from-truncated.img');
    await applyToBlankFile(saved, target, gptImage.byteLength);
    const v = await sfdiskVerify(target);
    expect(v.clean, v.output).toBe(true);
  });

  it('a primary entry array away from LBA 2: the sectors between header and entries are kept as boot area', HOSTILE, async () => {
    const moved = copy(gptImage);
    moved.copyWithin(10 * 512, 2 * 512, 34 * 512);
    moved.fill(0, 2 * 512, 10 * 512);
    moved.set(new TextEncoder().encode('a loader between the header and the entries'), 3 * 512);
    mutateHeader(moved, 'primary', (v) => v.setBigUint64(F.entriesLba, 10n, true));
    const file = join(tmp.dir, 'entries-at-10.img');
    await writeFile(file, moved);
    const l = await readFileLayout(file);
    expect(l.warnings).toEqual([]);
    expect(l.regions.map((r) => [r.role, r.lba, r.bytes.byteLength / 512])).toEqual([
      ['mbr', 0, 1],
      ['gpt-primary-header', 1, 1],
      ['boot-area', 2, 8],
      ['gpt-primary-entries', 10, 32],
      ['boot-area', 42, 2048 - 42],
      ['gpt-backup-entries', 32735, 32],
      ['gpt-backup-header', 32767, 1],
    ]);
    const target = join(tmp.dir, 'entries-at-10.applied.img');
    await applyToBlankFile(await throughFile(l), target, moved.byteLength);
    expect(Buffer.from(await readFile(target)).equals(Buffer.from(moved))).toBe(true);
    expect((await sfdiskDump(target)).dump).toBe((await sfdiskDump(file)).dump);
  });

  it('a primary header whose AlternateLBA points into the disk gets its backup at the end', HOSTILE, async () => {
    const bad = copy(gptImage);
    mutateHeader(bad, 'primary', (v) => v.setBigUint64(F.alternateLba, 1n, true));
    const l = await readLayout(new MemoryReadAt(bad));
    expect(codes(l)).toEqual(['PT_GPT_BAD_ALTERNATE_LBA']);
    expect(l.gpt!.backupHeaderLba).toBe(bad.byteLength / 512 - 1);
    const plan = planApply(await throughFile(l), bad.byteLength);
    expect(plan.exactReplay).toBe(false);
    const target = join(tmp.dir, 'alternate.applied.img');
    await applyToBlankFile(await throughFile(l), target, bad.byteLength);
    const v = await sfdiskVerify(target);
    expect(v.clean, v.output).toBe(true);
  });

  it('a hybrid MBR is reported and kept as it is', HOSTILE, async () => {
    const bad = copy(gptImage);
    setEntry(bad, 0, 1, { type: 0x07, startLba: 2048, sectorCount: 2048 });
    const l = await readLayout(new MemoryReadAt(bad));
    expect(codes(l)).toEqual(['PT_GPT_HYBRID_MBR']);
    expect(l.gpt!.hybridMbr).toBe(true);
    const plan = planApply(l, bad.byteLength * 2);
    const mbr = plan.writes.find((w) => w.what === 'mbr')!;
    expect(Buffer.from(mbr.bytes).equals(Buffer.from(bad.subarray(0, 512)))).toBe(true);
  });

  it('a protective MBR sized for another disk is a warning (as sfdisk says)', HOSTILE, async () => {
    const bad = copy(gptImage);
    setEntry(bad, 0, 0, { type: 0xee, startLba: 1, sectorCount: 1000 });
    const l = await read(bad);
    expect(codes(l)).toEqual(['PT_GPT_PMBR_SIZE']);
  });

  it('overlapping GPT partitions are a warning', HOSTILE, async () => {
    const bad = copy(gptImage);
    for (const which of ['primary', 'backup'] as const) {
      const entriesLba = which === 'primary' ? 2 : bad.byteLength / 512 - 33;
      const entries = bad.subarray(entriesLba * 512, entriesLba * 512 + 128 * 128);
      viewOf(entries).setBigUint64(128 + 32, 3000n, true); // partition 2 now starts inside partition 1
      mutateHeader(bad, which, (v) => v.setUint32(F.entriesCrc, crc32Ieee(entries), true));
    }
    const l = await read(bad);
    expect(codes(l)).toEqual(['PT_OVERLAP']);
  });
});
