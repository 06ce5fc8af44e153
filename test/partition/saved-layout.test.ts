// The saved-layout file: what it holds, that it reads back to the same layout, and that every kind of
// damage or tampering is refused on load with a coded error (before any target is touched).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/tmp.js';
import { sfdiskCreate } from '../helpers/sfdisk.js';
import { patchFile, pseudoRandomBytes, readFileLayout } from '../helpers/layouts.js';
import { crc32Ieee } from '../../src/core/crc32-ieee.js';
import { decodeSavedLayout, encodeSavedLayout, SAVED_LAYOUT_VERSION, type DiskLayout } from '../../src/partition/index.js';

const MiB = 1024 * 1024;

let tmp: { dir: string; cleanup: () => Promise<void> };
let dos: DiskLayout;
let gpt: DiskLayout;

beforeAll(async () => {
  tmp = await makeTempDir('snapclone-ptsaved-');
  const dosFile = join(tmp.dir, 'dos.img');
  await sfdiskCreate(dosFile, 16 * MiB, `label: dos\nstart=2048, size=4096, type=83, bootable\nstart=8192, type=5\n${dosFile}5 : size=2048, type=7\n${dosFile}6 : type=82\n`);
  // A "boot loader" in sectors 1-40: the rest of the 2047-sector gap stays zero.
  await patchFile(dosFile, 512, pseudoRandomBytes(40 * 512, 3));
  dos = await readFileLayout(dosFile);
  const gptFile = join(tmp.dir, 'gpt.img');
  await sfdiskCreate(gptFile, 16 * MiB, 'label: gpt\nstart=2048, size=2048, name="one", attrs="RequiredPartition GUID:50"\nsize=4096, name="deux"\n');
  gpt = await readFileLayout(gptFile);
});
afterAll(async () => {
  await tmp.cleanup();
});

type Doc = Record<string, unknown> & { regions: Record<string, unknown>[]; partitions: Record<string, unknown>[] };

function docOf(l: DiskLayout): Doc {
  return JSON.parse(new TextDecoder().decode(encodeSavedLayout(l))) as Doc;
}

function bytesOf(doc: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}

describe('the saved layout', () => {
  it('is versioned JSON with the partitions and every table sector, zero runs left out', () => {
    const doc = docOf(dos);
    expect(doc['format']).toBe('snapclone-layout');
    expect(doc['version']).toBe(SAVED_LAYOUT_VERSION);
    expect(doc['label']).toBe('dos');
    expect(doc.partitions.map((p) => [p['number'], p['kind'], p['type']])).toEqual([
      [1, 'primary', '83'],
      [2, 'extended', '5'],
      [5, 'logical', '7'],
      [6, 'logical', '82'],
    ]);
    expect(doc.regions.map((r) => [r['role'], r['lba'], r['sectorCount']])).toEqual([
      ['mbr', 0, 1],
      ['boot-area', 1, 2047],
      ['ebr', 8192, 1],
      ['ebr', 12288, 1],
    ]);
    const boot = doc.regions[1]!['runs'] as { lba: number; data: string }[];
    expect(boot).toHaveLength(1);
    expect(boot[0]!.lba).toBe(1);
    expect(Buffer.from(boot[0]!.data, 'base64')).toEqual(Buffer.from(pseudoRandomBytes(40 * 512, 3)));
  });

  it.each(['dos', 'gpt'])('%s reads back to the same layout, sectors included', async (which) => {
    const l = which === 'dos' ? dos : gpt;
    const back = await decodeSavedLayout(encodeSavedLayout(l));
    expect(back.partitions).toEqual(l.partitions);
    expect(back.id).toBe(l.id);
    expect(back.gpt).toEqual(l.gpt);
    expect(back.regions.map((r) => [r.role, r.lba, crc32Ieee(r.bytes)])).toEqual(l.regions.map((r) => [r.role, r.lba, crc32Ieee(r.bytes)]));
  });
});

describe('loading refuses', () => {
  const cases: [string, string, (d: Doc) => unknown][] = [
    ['another format', 'PT_LAYOUT_BAD_FORMAT', (d) => ({ ...d, format: 'sfdisk' })],
    ['a newer version', 'PT_LAYOUT_VERSION', (d) => ({ ...d, version: SAVED_LAYOUT_VERSION + 1 })],
    ['a bad sector size', 'PT_LAYOUT_BAD_FIELD', (d) => ({ ...d, sectorSize: 513 })],
    ['a negative disk size', 'PT_LAYOUT_BAD_FIELD', (d) => ({ ...d, diskSizeBytes: -1 })],
    ['a region past the end of the disk', 'PT_LAYOUT_BAD_FIELD', (d) => ((d.regions[2]!['lba'] = 10 ** 9), d)],
    ['a region larger than the disk', 'PT_LAYOUT_BAD_FIELD', (d) => ((d.regions[1]!['sectorCount'] = 40000), d)],
    ['an absurd region size (refused before allocating)', 'PT_LAYOUT_BAD_FIELD', (d) => ((d.regions[1]!['sectorCount'] = 2 ** 31), { ...d, diskSizeBytes: 2 ** 50 })],
    ['a run of half a sector', 'PT_LAYOUT_BAD_FIELD', (d) => (((d.regions[0]!['runs'] as { data: string }[])[0]!.data = Buffer.alloc(256).toString('base64')), d)],
    ['a run that is not base64', 'PT_LAYOUT_BAD_FIELD', (d) => (((d.regions[0]!['runs'] as { data: string }[])[0]!.data = '!!!!'), d)],
    ['overlapping regions', 'PT_LAYOUT_BAD_FIELD', (d) => ((d.regions[2]!['lba'] = 5), d)],
    ['no MBR region', 'PT_LAYOUT_BAD_FIELD', (d) => ({ ...d, regions: d.regions.slice(1) })],
    ['a region with a changed CRC', 'PT_LAYOUT_CRC', (d) => ((d.regions[2]!['crc32'] = '00000000'), d)],
    [
      'a changed sector (one base64 character)',
      'PT_LAYOUT_CRC',
      (d) => {
        const run = (d.regions[0]!['runs'] as { data: string }[])[0]!;
        run.data = (run.data[0] === 'A' ? 'B' : 'A') + run.data.slice(1);
        return d;
      },
    ],
    ['an edited partition size', 'PT_LAYOUT_MISMATCH', (d) => ((d.partitions[2]!['size'] = 999), d)],
    ['a dropped partition', 'PT_LAYOUT_MISMATCH', (d) => ({ ...d, partitions: d.partitions.slice(0, 3) })],
    ['a dropped EBR', 'PT_LAYOUT_MISMATCH', (d) => ({ ...d, regions: d.regions.slice(0, 3) })],
    ['a changed disk id', 'PT_LAYOUT_MISMATCH', (d) => ({ ...d, id: '0x00000001' })],
  ];
  it.each(cases)('%s: %s', async (_what, code, edit) => {
    await expect(decodeSavedLayout(bytesOf(edit(docOf(dos))))).rejects.toMatchObject({ code });
  });

  it('a table edited consistently (CRC recomputed) that no longer matches the list: PT_LAYOUT_MISMATCH', async () => {
    const d = docOf(gpt);
    const header = d.regions.find((r) => r['role'] === 'mbr')!;
    const run = (header['runs'] as { data: string }[])[0]!;
    const mbr = Buffer.from(run.data, 'base64');
    mbr[446 + 4] = 0x83; // the protective entry becomes a Linux partition: the disk reads as dos
    run.data = mbr.toString('base64');
    header['crc32'] = crc32Ieee(mbr).toString(16).padStart(8, '0');
    await expect(decodeSavedLayout(bytesOf(d))).rejects.toMatchObject({ code: 'PT_LAYOUT_MISMATCH' });
  });

  it('text that is not JSON, or not UTF-8, and files far larger than any layout', async () => {
    await expect(decodeSavedLayout(new TextEncoder().encode('{"format": '))).rejects.toMatchObject({ code: 'PT_LAYOUT_BAD_JSON' });
    await expect(decodeSavedLayout(Uint8Array.of(0x7b, 0xff, 0x7d))).rejects.toMatchObject({ code: 'PT_LAYOUT_BAD_JSON' });
    await expect(decodeSavedLayout(new Uint8Array(65 * MiB))).rejects.toMatchObject({ code: 'PT_LAYOUT_TOO_LARGE' });
    await expect(decodeSavedLayout(new TextEncoder().encode('[]'))).rejects.toMatchObject({ code: 'PT_LAYOUT_BAD_FIELD' });
  });
});
