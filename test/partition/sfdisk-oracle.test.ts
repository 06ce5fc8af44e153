// Disks made by sfdisk: snapclone lists them as sfdisk -J does, and a saved layout applied onto blank
// targets reads back identically with sfdisk -d (same size), verifies clean with sfdisk -V (larger,
// backup GPT moved to the end), and --grow-last grows the last partition as expected.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { makeTempDir } from '../helpers/tmp.js';
import { sfdiskCreate, sfdiskDump, sfdiskJson, sfdiskVerify } from '../helpers/sfdisk.js';
import {
  applyToBlankFile,
  firstDifference,
  patchFile,
  pseudoRandomBytes,
  readBytes,
  readFileLayout,
  throughFile,
  toOracle,
} from '../helpers/layouts.js';
import { isAllZero } from '../../src/core/bytes.js';
import { partitionEndLba, type DiskLayout } from '../../src/partition/index.js';

const MiB = 1024 * 1024;

interface DiskCase {
  name: string;
  sizeBytes: number;
  /** The sfdisk script; DISK is replaced by the file's path (logical partitions are named explicitly). */
  script: string;
  label: 'dos' | 'gpt';
  /** dos: the same table with the last partition taking the rest of the disk, for sfdisk to make the grown table. */
  grownScript?: string;
}

const CASES: DiskCase[] = [
  {
    name: 'dos-primaries',
    label: 'dos',
    sizeBytes: 32 * MiB,
    script: 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=8192, type=83, bootable\nsize=4096, type=7\nsize=4096, type=c\nsize=8192, type=82\n',
    grownScript: 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=8192, type=83, bootable\nsize=4096, type=7\nsize=4096, type=c\ntype=82\n',
  },
  {
    name: 'dos-logicals',
    label: 'dos',
    sizeBytes: 64 * MiB,
    script:
      'label: dos\nlabel-id: 0xdeadbeef\nstart=2048, size=4096, type=83, bootable\nsize=4096, type=7\nstart=12288, type=5\n' +
      'DISK5 : size=4096, type=83\nDISK6 : size=8192, type=7, bootable\nDISK7 : size=2048, type=82\nDISK8 : size=6144, type=b\nDISK9 : size=4096, type=8e\n',
    grownScript:
      'label: dos\nlabel-id: 0xdeadbeef\nstart=2048, size=4096, type=83, bootable\nsize=4096, type=7\nstart=12288, type=5\n' +
      'DISK5 : size=4096, type=83\nDISK6 : size=8192, type=7, bootable\nDISK7 : size=2048, type=82\nDISK8 : size=6144, type=b\nDISK9 : type=8e\n',
  },
  {
    name: 'dos-lba-extended-to-end',
    label: 'dos',
    sizeBytes: 48 * MiB,
    // Windows' extended type; the last logical reaches the end of the disk.
    script: 'label: dos\nlabel-id: 0x00c0ffee\nstart=63, size=4033, type=7, bootable\nstart=8192, type=f\nDISK5 : size=2048, type=7\nDISK6 : type=83\n',
    grownScript: 'label: dos\nlabel-id: 0x00c0ffee\nstart=63, size=4033, type=7, bootable\nstart=8192, type=f\nDISK5 : size=2048, type=7\nDISK6 : type=83\n',
  },
  {
    name: 'gpt-named',
    label: 'gpt',
    sizeBytes: 64 * MiB,
    script:
      'label: gpt\nlabel-id: 11111111-2222-3333-4444-555555555555\n' +
      'start=2048, size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition", attrs="RequiredPartition"\n' +
      'size=2048, type=21686148-6449-6E6F-744E-656564454649, name="BIOS boot", attrs="LegacyBIOSBootable"\n' +
      'size=2048, type=E3C9E316-0B5C-4DB8-817D-F92DF00215AE, name="Microsoft reserved partition", attrs="GUID:63"\n' +
      'size=8192, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="Basic data partition", attrs="NoBlockIOProtocol GUID:48,60,62,63"\n' +
      'size=4096, type=DE94BBA4-06D1-4D40-A16A-BFD50179D6AC, uuid=AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE, name="Récupération"\n' +
      'size=2048, name="Données ÄÖÜ ß € 日本"\n' +
      'size=2048, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"\n' +
      'size=2048, type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="a name of exactly thirty-six chars.."\n' +
      'size=2048, type=A19D880F-05FC-4D3B-A006-743F0F84911E\n' +
      'size=2048, name="ten"\nsize=2048, name="eleven"\nsize=8192, name="twelve", attrs="RequiredPartition NoBlockIOProtocol LegacyBIOSBootable"\n',
  },
  {
    name: 'gpt-256-entries',
    label: 'gpt',
    sizeBytes: 16 * MiB,
    // A non-default entry count, and a partition right after the entries (no boot area gap at all).
    script: 'label: gpt\nfirst-lba: 66\ntable-length: 256\nstart=66, size=1982, name="tight"\nsize=4096\nsize=2048\n',
  },
];

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTempDir('snapclone-pt-');
});
afterAll(async () => {
  await tmp.cleanup();
});

/** Makes the disk with sfdisk, then gives it boot code and a "boot loader" in the gap before partition 1. */
async function makeCase(c: DiskCase, file: string): Promise<void> {
  await sfdiskCreate(file, c.sizeBytes, c.script.split('DISK').join(file));
  // Boot code: bytes 0-439 (sfdisk keeps what is there; GPT's protective MBR has it too).
  await patchFile(file, 0, pseudoRandomBytes(440, c.name.length));
  const l = await readFileLayout(file, { captureBootArea: false });
  const firstStart = Math.min(...l.partitions.map((p) => p.startLba));
  const bootFrom = l.label === 'dos' ? 1 : 2 + Math.ceil((l.gpt!.entryCount * l.gpt!.entrySize) / 512);
  if (firstStart > bootFrom) await patchFile(file, bootFrom * 512, pseudoRandomBytes((firstStart - bootFrom) * 512, 7));
}

function partitionsOf(t: { partitions: unknown[] }): unknown[] {
  return t.partitions;
}

describe.each(CASES)('$name', (c) => {
  let source: string;
  let layout: DiskLayout;

  beforeAll(async () => {
    source = join(tmp.dir, `${c.name}.img`);
    await makeCase(c, source);
    layout = await readFileLayout(source);
  });

  it('lists what sfdisk -J lists', async () => {
    const oracle = await sfdiskJson(source);
    expect(toOracle(layout)).toEqual(oracle);
    expect(layout.label).toBe(c.label);
    expect(layout.warnings).toEqual([]);
  });

  it('saves and applies onto a blank file of the same size: identical sfdisk -d, boot code and boot area', async () => {
    const target = join(tmp.dir, `${c.name}.same.img`);
    const plan = await applyToBlankFile(await throughFile(layout), target, c.sizeBytes);
    expect(plan.exactReplay).toBe(true);
    expect((await sfdiskDump(target)).dump).toBe((await sfdiskDump(source)).dump);
    expect((await sfdiskDump(target)).stderr).toBe('');
    expect(await readBytes(target, 0, 446)).toEqual(await readBytes(source, 0, 446));
    // Everything from sector 0 to the first partition: tables and boot area.
    const firstStart = Math.min(...layout.partitions.map((p) => p.startLba));
    expect(firstDifference(await readBytes(target, 0, firstStart * 512), await readBytes(source, 0, firstStart * 512))).toBeUndefined();
    // The GPT backup too, byte for byte.
    const tail = 80 * 512;
    if (c.label === 'gpt') expect(firstDifference(await readBytes(target, c.sizeBytes - tail, tail), await readBytes(source, c.sizeBytes - tail, tail))).toBeUndefined();
    expect((await stat(target)).size).toBe(c.sizeBytes);
  });

  it('applies onto a larger blank file: sfdisk -V is clean and the partitions are unchanged', async () => {
    const target = join(tmp.dir, `${c.name}.larger.img`);
    const size = c.sizeBytes * 2 + 7 * 512;
    const plan = await applyToBlankFile(await throughFile(layout), target, size);
    const verify = await sfdiskVerify(target);
    expect(verify.clean, verify.output).toBe(true);
    const after = await sfdiskJson(target);
    expect(partitionsOf(after)).toEqual(partitionsOf(toOracle(layout)));
    expect(after.id).toBe(layout.id);
    if (c.label === 'gpt') {
      expect(plan.exactReplay).toBe(false);
      const sectors = Math.floor(size / 512);
      const entrySectors = Math.ceil((layout.gpt!.entryCount * layout.gpt!.entrySize) / 512);
      expect(after.lastLba).toBe(sectors - 2 - entrySectors);
      expect(after.firstLba).toBe(layout.gpt!.firstUsableLba);
      const backup = await readBytes(target, (sectors - 1) * 512, 512);
      expect(new TextDecoder().decode(backup.subarray(0, 8))).toBe('EFI PART');
      expect((await sfdiskDump(target)).stderr).toBe('');
    }
    expect(await readBytes(target, 0, 440)).toEqual(await readBytes(source, 0, 440));
  });

  it('--grow-last extends the last partition to the end of a larger target', async () => {
    const target = join(tmp.dir, `${c.name}.grown.img`);
    const size = c.sizeBytes + 24 * MiB;
    const plan = await applyToBlankFile(await throughFile(layout), target, size, { growLast: true });
    const verify = await sfdiskVerify(target);
    expect(verify.clean, verify.output).toBe(true);
    const after = await sfdiskJson(target);
    const sectors = size / 512;
    const last = [...layout.partitions].filter((p) => p.kind !== 'extended').sort((a, b) => partitionEndLba(b) - partitionEndLba(a))[0]!;
    const grownEnd = c.label === 'dos' ? sectors - 1 : sectors - 2 - Math.ceil((layout.gpt!.entryCount * layout.gpt!.entrySize) / 512);
    const expected = toOracle(layout).partitions.map((p) => {
      if (p.number === last.number) return { ...p, size: grownEnd - p.start + 1 };
      // The extended container of a grown logical partition reaches the end too.
      if (last.kind === 'logical' && (p.type === '5' || p.type === 'f')) return { ...p, size: sectors - p.start };
      return p;
    });
    expect(after.partitions).toEqual(expected);
    expect(plan.grown).toEqual({ number: last.number, fromSectors: last.sectorCount, toSectors: grownEnd - last.startLba + 1 });
    if (c.grownScript) {
      // sfdisk makes the grown table itself: every entry of the MBR and of each EBR (LBAs, sizes, CHS,
      // the links' extents) must be what snapclone patched in.
      const made = join(tmp.dir, `${c.name}.grown-by-sfdisk.img`);
      await sfdiskCreate(made, size, c.grownScript.split('DISK').join(made));
      for (const lba of [0, ...layout.regions.filter((r) => r.role === 'ebr').map((r) => r.lba)]) {
        const ours = await readBytes(target, lba * 512 + 446, 64);
        const theirs = await readBytes(made, lba * 512 + 446, 64);
        expect({ lba, entries: Buffer.from(ours).toString('hex') }).toEqual({ lba, entries: Buffer.from(theirs).toString('hex') });
      }
    }
  });

  it('refuses a target too small for the partitions, before writing anything', async () => {
    const target = join(tmp.dir, `${c.name}.small.img`);
    const size = c.sizeBytes / 4;
    await expect(applyToBlankFile(await throughFile(layout), target, size)).rejects.toMatchObject({ code: 'PT_TARGET_TOO_SMALL', kind: 'refused' });
    expect(isAllZero(await readBytes(target, 0, size))).toBe(true);
  });
});

describe('a gpt applied onto a smaller target that still holds every partition', () => {
  it('moves the backup down and sfdisk -V is clean', async () => {
    const c = CASES.find((x) => x.name === 'gpt-named')!;
    const source = join(tmp.dir, 'gpt-shrink-source.img');
    await makeCase(c, source);
    const layout = await readFileLayout(source);
    const lastEnd = Math.max(...layout.partitions.map(partitionEndLba));
    const size = (lastEnd + 1 + 33) * 512; // exactly enough: entries and header after the last partition
    const target = join(tmp.dir, 'gpt-shrunk.img');
    await applyToBlankFile(await throughFile(layout), target, size);
    const verify = await sfdiskVerify(target);
    expect(verify.clean, verify.output).toBe(true);
    expect((await sfdiskJson(target)).lastLba).toBe(lastEnd);
    await expect(applyToBlankFile(await throughFile(layout), join(tmp.dir, 'gpt-short.img'), size - 512)).rejects.toMatchObject({
      code: 'PT_TARGET_TOO_SMALL',
    });
  });
});
