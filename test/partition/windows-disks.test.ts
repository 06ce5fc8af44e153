// Disks made by Windows (third-party, ../shared/testdata/windows, see its REPORT.md): an MBR with an EBR
// chain of four logicals, a GPT inside a fixed VHD (raw disk + 512-byte footer; protective MBR of
// 0xFFFFFFFF sectors), and an NTFS disk with one partition at LBA 128. They list like sfdisk (and kpartx
// for the numbering) and round-trip through a saved layout.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { copyFile, writeFile } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { HAVE_TESTDATA, testdataPath } from '../helpers/testdata.js';
import { makeTempDir } from '../helpers/tmp.js';
import { runCommand } from '../helpers/cli.js';
import { sfdiskDump, sfdiskJson, sfdiskVerify } from '../helpers/sfdisk.js';
import { applyToBlankFile, firstDifference, readBytes, readFileLayout, throughFile, toOracle } from '../helpers/layouts.js';
import { decodeMbrSector } from '../../src/partition/mbr.js';
import { findPartition, partitionReader, readLayout } from '../../src/partition/index.js';
import { SourceFile } from '../../src/io/source-file.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
const files: Record<string, string> = {};

beforeAll(async () => {
  tmp = await makeTempDir('snapclone-ptwin-');
  if (!HAVE_TESTDATA) return;
  const mbrDir = join(tmp.dir, 'mbr');
  await runCommand('mkdir', ['-p', mbrDir]);
  const tar = await runCommand('tar', ['-xSf', testdataPath('windows', 'dfirntfs_mbr-win-512.raw.tar'), '-C', mbrDir]);
  if (tar.status !== 0) throw new Error(tar.stderr);
  files['ebr'] = join(mbrDir, 'mbr-win-512.raw');
  files['vhd'] = join(tmp.dir, 'Shared.vhd');
  await copyFile(testdataPath('windows', 'recext_Shared.vhd'), files['vhd']);
  files['ntfs'] = join(tmp.dir, 'ntfs_index.raw');
  await pipeline(createReadStream(testdataPath('windows', 'dfirntfs_ntfs_index.raw.gz')), createGunzip(), createWriteStream(files['ntfs']));
});
afterAll(async () => {
  await tmp.cleanup();
});

describe.skipIf(!HAVE_TESTDATA)('Windows-made disks', () => {
  it.each(['ebr', 'vhd', 'ntfs'])('%s lists what sfdisk -J lists', async (key) => {
    const file = files[key]!;
    expect(toOracle(await readFileLayout(file))).toEqual(await sfdiskJson(file));
  });

  it('numbers the EBR chain as Linux does: 5-8 in chain order (REPORT.md K5)', async () => {
    const l = await readFileLayout(files['ebr']!);
    expect(l.partitions.map((p) => [p.number, p.kind, p.startLba, p.sectorCount, p.tableLba])).toEqual([
      [1, 'primary', 128, 16384, 0],
      [2, 'primary', 16512, 16384, 0],
      [3, 'primary', 32896, 16384, 0],
      [4, 'extended', 49280, 471040, 0],
      [5, 'logical', 49408, 16384, 49280],
      [6, 'logical', 65920, 16384, 65792],
      [7, 'logical', 82432, 16384, 82304],
      [8, 'logical', 98944, 417792, 98816],
    ]);
    expect(l.regions.filter((r) => r.role === 'ebr').map((r) => r.lba)).toEqual([49280, 65792, 82304, 98816]);
  });

  it('agrees with kpartx -l on numbers and starts (where loop devices work)', async (ctx) => {
    const r = await runCommand('kpartx', ['-l', files['ebr']!]);
    const rows = r.stdout
      .toString()
      .split('\n')
      .map((line) => /p(\d+) : 0 (\d+) (\S+) (\d+)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null);
    if (r.status !== 0 || rows.length === 0) {
      console.warn(`*** kpartx -l unavailable (${r.stderr.trim().split('\n')[0]}): numbering check against kpartx SKIPPED ***`);
      ctx.skip();
      return;
    }
    const l = await readFileLayout(files['ebr']!);
    const ext = l.partitions.find((p) => p.kind === 'extended')!;
    for (const m of rows) {
      const number = Number(m[1]);
      // kpartx maps logicals on top of the extended partition's mapping: their offsets are relative to it.
      const start = Number(m[4]) + (m[3]!.startsWith('/dev/loop') ? 0 : ext.startLba);
      const p = l.partitions.find((q) => q.number === number)!;
      expect(p.startLba).toBe(start);
      if (p.kind !== 'extended') expect(p.sectorCount).toBe(Number(m[2]));
    }
    expect(rows.map((m) => Number(m[1]))).toEqual(l.partitions.map((p) => p.number));
  });

  it('a bare NTFS volume (the partition of the NTFS disk) is PT_NO_TABLE, not a bogus label', async () => {
    const layout = await readFileLayout(files['ntfs']!);
    const disk = await SourceFile.open(files['ntfs']!);
    try {
      const volume = partitionReader(disk, findPartition(layout, 1));
      await expect(readLayout(volume)).rejects.toMatchObject({ code: 'PT_NO_TABLE', byteOffset: 462 });
    } finally {
      await disk.close();
    }
  });

  it('keeps the VHD quirks: backup GPT one sector before the footer, protective MBR of 0xFFFFFFFF sectors', async () => {
    const l = await readFileLayout(files['vhd']!);
    expect(l.warnings.map((w) => w.code)).toEqual(['PT_GPT_BACKUP_NOT_AT_END']);
    expect(l.regions.find((r) => r.role === 'gpt-backup-header')!.lba).toBe(6143);
    const pmbr = decodeMbrSector(l.regions.find((r) => r.role === 'mbr')!.bytes);
    expect(pmbr.entries[0]!.sectorCount).toBe(0xffffffff);
  });

  it.each(['ebr', 'vhd', 'ntfs'])('%s round-trips onto a blank file of the same size', async (key) => {
    const file = files[key]!;
    const layout = await readFileLayout(file);
    const target = join(tmp.dir, `${key}.copy`);
    await applyToBlankFile(await throughFile(layout), target, layout.diskSizeBytes);
    const [a, b] = [await sfdiskDump(target), await sfdiskDump(file)];
    expect(a.dump.replace(/device: .*/, '')).toBe(b.dump.replace(/device: .*/, ''));
    expect(a.stderr.split(target).join('X')).toBe(b.stderr.split(file).join('X'));
    const firstStart = Math.min(...layout.partitions.map((p) => p.startLba));
    expect(firstDifference(await readBytes(target, 0, firstStart * 512), await readBytes(file, 0, firstStart * 512))).toBeUndefined();
    for (const r of layout.regions) {
      expect(firstDifference(await readBytes(target, r.lba * 512, r.bytes.byteLength), await readBytes(file, r.lba * 512, r.bytes.byteLength))).toBeUndefined();
    }
  });

  it('puts the VHD GPT onto a larger raw disk with the backup at the end: sfdisk -V clean', async () => {
    const layout = await readFileLayout(files['vhd']!);
    const target = join(tmp.dir, 'vhd.larger');
    await writeFile(target, new Uint8Array(0));
    await applyToBlankFile(await throughFile(layout), target, 8 * 1024 * 1024, { growLast: true });
    const v = await sfdiskVerify(target);
    expect(v.clean, v.output).toBe(true);
    const t = await sfdiskJson(target);
    const lastUsable = 16384 - 1 - 32 - 1; // 8 MiB: backup header and 32 sectors of entries at the end
    expect(t.partitions[0]).toMatchObject({ start: 128, size: lastUsable - 128 + 1, name: 'Basic data partition' });
  });
});
