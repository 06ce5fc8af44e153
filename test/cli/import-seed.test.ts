// `snapclone import`: a backup made with the seed's own recipe on a Windows-made disk (the real
// ntfsclone piped into the real bzip2 -2, and dd of the MBR) becomes a set that verify and restore
// handle; the restored disk has the same MBR and the same files (ntfsls/ntfscat). Refusals: an MBR
// with logical partitions (their EBRs were never saved), something that is not an MBR, an image
// that fits no partition.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { HAVE_NTFSCLONE, unpackWindowsDisk } from '../helpers/ntfs-fixtures.js';
import { HAVE_TESTDATA } from '../helpers/testdata.js';
import { DEMO_PARTITIONS, entries, errorCode, unpackDemoDisk } from '../helpers/demo-disk.js';
import { extractPartition, partitionFileDigests } from '../helpers/ntfs-file-digests.mjs';
import type { Manifest } from '../../src/backup/manifest.js';

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
// K1: one NTFS partition at sector 128 of 518144 sectors (testdata/windows/REPORT.md).
const K1_PART = { startByte: 128 * 512, sizeBytes: 518144 * 512 };

describe.skipIf(!HAVE_NTFSCLONE || !HAVE_TESTDATA)("snapclone import of the seed's backups", () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let disk = '';
  let image = '';
  let mbr = '';
  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-import-'));
    disk = await unpackWindowsDisk('K1', dir);
    // The seed's recipe, with the real tools.
    const part = extractPartition(disk, K1_PART.startByte, K1_PART.sizeBytes, dir);
    image = join(dir, 'winxp_1.img.bz2');
    mbr = join(dir, 'winxp.mbr');
    const r = await runCommand('bash', ['-o', 'pipefail', '-c', `ntfsclone -q --save-image -o - ${q(part)} 2>/dev/null | bzip2 -2 > ${q(image)} && dd if=${q(disk)} of=${q(mbr)} bs=512 count=1 status=none`]);
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => cleanup());

  it('makes a set that verifies and restores to the same MBR and files', async () => {
    const dest = join(dir, 'sets');
    const r = await runCli(['import', '--image', image, '--mbr', mbr, '--dest', dest, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const { set, manifest } = JSON.parse(r.stdout.toString()) as { set: string; manifest: Manifest };
    expect(set).toMatch(/\/winxp_1-\d{8}T\d{6}Z$/);
    expect(await entries(set)).toEqual(['layout.json', 'manifest.json', 'p1.ntfsclone.img.bz2']);
    expect(manifest.source.kind).toBe('seed-import');
    expect(manifest.compression.level).toBe(2);
    expect(manifest.partitions.map((p) => [p.number, p.startByte, p.sizeBytes])).toEqual([[1, K1_PART.startByte, K1_PART.sizeBytes]]);
    // The image is copied as it was: byte for byte the seed's file.
    expect((await runCommand('cmp', [image, join(set, 'p1.ntfsclone.img.bz2')])).status).toBe(0);
    expect((await runCli(['verify', set, '-q'])).status).toBe(0);
    const target = join(dir, 'restored.img');
    const restored = await runCli(['restore', set, target, '-q']);
    expect(restored.status, restored.stderr).toBe(0);
    expect((await runCommand('cmp', ['-n', '512', disk, target])).status).toBe(0);
    expect(partitionFileDigests(target, K1_PART.startByte, K1_PART.sizeBytes)).toEqual(partitionFileDigests(disk, K1_PART.startByte, K1_PART.sizeBytes));
  });

  it('refuses an MBR whose logical partitions were never saved, a file that is not an MBR, and an image that fits no partition', async () => {
    const demo = await unpackDemoDisk(join(dir, 'demo.img'));
    const demoMbr = join(dir, 'demo.mbr');
    await writeFile(demoMbr, (await readFile(demo)).subarray(0, 512));
    const dest = join(dir, 'refused');
    const logical = await runCli(['import', '--image', image, '--mbr', demoMbr, '--dest', dest, '-q']);
    expect(errorCode(logical.stderr)).toBe('SET_IMPORT_LOGICAL');
    expect(logical.status).toBe(3);
    const notMbr = await runCli(['import', '--image', image, '--mbr', image, '--dest', dest, '-q']);
    expect(errorCode(notMbr.stderr)).toBe('SET_IMPORT_BAD_MBR');
    // The demo disk's partition 1, imaged the seed's way, is not K1's partition.
    const other = join(dir, 'other.img.bz2');
    const part = extractPartition(demo, DEMO_PARTITIONS[0].startByte, DEMO_PARTITIONS[0].sizeBytes, dir);
    expect((await runCommand('bash', ['-o', 'pipefail', '-c', `ntfsclone -q -s -o - ${q(part)} 2>/dev/null | bzip2 -2 > ${q(other)}`])).status).toBe(0);
    const misfit = await runCli(['import', '--image', other, '--mbr', mbr, '--dest', dest, '-q']);
    expect(errorCode(misfit.stderr)).toBe('SET_IMPORT_NO_PARTITION');
    expect(misfit.status).toBe(2);
    expect(existsSync(dest) ? await entries(dest) : []).toEqual([]);
  });
});
