// save-image, restore-image and info as a user runs them, on damaged and unusual volumes, with the
// real ntfsclone deciding what must be refused and what must be identical: dirty flag, a bad
// cluster in $BadClus:$Bad, $Bitmap bits that disagree with the MFT, a device exactly
// nr_clusters clusters long, mounted sources and targets, existing outputs, truncated images,
// block devices, and the info and progress outputs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { copyVolume, fixtureVolume, HAVE_NTFSCLONE, haveWindowsVolumes, ntfsclone, unpackWindowsDisk } from '../helpers/ntfs-fixtures.js';
import { addBadCluster, bitmapBit, findFreeCluster, findRecordByName, setVolumeFlags, splitMftDataIntoExtent, tearRecord } from '../helpers/ntfs-patch.js';
import { SourceFile } from '../../src/io/source-file.js';
import { NtfsVolume } from '../../src/ntfs/volume.js';

/** The `snapclone: error CODE:` of a failed run. */
function errorCode(stderr: string): string | undefined {
  return /snapclone: error (\w+):/.exec(stderr)?.[1];
}

async function sameFile(a: string, b: string): Promise<boolean> {
  return (await runCommand('cmp', ['-s', a, b])).status === 0;
}

const IS_ROOT = process.getuid?.() === 0;
const HAVE_FUSE = existsSync('/dev/fuse') && IS_ROOT;

describe.skipIf(!HAVE_NTFSCLONE)('save-image, restore-image and info on damaged and unusual volumes', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let n = 0;
  /** A private copy of fixture `name`. */
  const copy = async (name: string): Promise<string> => copyVolume(await fixtureVolume(name), dir, `${name}-${n++}.img`);
  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-cli-ntfs-'));
  });
  afterAll(async () => cleanup());

  /** Saves with both tools; returns their exit statuses and whether the outputs are identical. */
  async function saveBoth(volume: string, extra: string[] = [], theirsExtra: string[] = []) {
    const ref = `${volume}.ref`;
    const ours = `${volume}.ours`;
    const theirs = await ntfsclone(['-q', '--save-image', ...theirsExtra, '-O', ref, volume]);
    const mine = await runCli(['save-image', volume, '-o', ours, '-q', '--overwrite', ...extra]);
    return {
      theirs: theirs.status,
      mine: mine.status,
      code: errorCode(mine.stderr),
      identical: theirs.status === 0 && mine.status === 0 && (await sameFile(ref, ours)),
      oursExists: existsSync(ours),
      ref,
      ours,
    };
  }

  it('refuses a dirty volume without --force, as ntfsclone, and saves it identically with it', async () => {
    const v = await copy('c512');
    await setVolumeFlags(v, 0x0001);
    const refused = await saveBoth(v);
    expect(refused.theirs).toBe(1);
    expect(refused.mine).toBe(4);
    expect(refused.code).toBe('NTFS_DIRTY');
    expect(refused.oursExists).toBe(false); // nothing left behind (ntfsclone leaves a 0-byte file)
    const forced = await saveBoth(v, ['--force'], ['--force']);
    expect(forced.identical).toBe(true);
    // Flag 0x0080 (set by Windows 10) is not "dirty".
    await setVolumeFlags(v, 0x0080);
    expect((await saveBoth(v)).identical).toBe(true);
  });

  it('saves a bad cluster from $BadClus:$Bad as a gap, identically', async () => {
    const v = await copy('demo');
    const bad = await findFreeCluster(v, 5000);
    await addBadCluster(v, bad);
    const r = await saveBoth(v);
    expect(r.theirs).toBe(0);
    expect(r.identical).toBe(true);
    const info = await runCli(['info', v, '--json', '--verify', '-q']);
    expect(info.status, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout.toString())).toMatchObject({ badClusters: 1, fsCheck: 'passed' });
  });

  it('refuses $Bitmap bits that disagree with the MFT walk, as ntfsclone does', async () => {
    // An extra bit (set, but no file uses the cluster).
    const extra = await copy('demo');
    await bitmapBit(extra, await findFreeCluster(extra, 5000), true);
    const r1 = await saveBoth(extra);
    expect(r1.theirs).toBe(1);
    expect([r1.mine, r1.code, r1.oursExists]).toEqual([4, 'NTFS_BITMAP_MISMATCH', false]);
    // To stdout nothing is written at all: the walk runs before the first byte.
    const toStdout = await runCli(['save-image', extra, '-o', '-', '-q']);
    expect([toStdout.status, errorCode(toStdout.stderr), toStdout.stdout.byteLength]).toEqual([4, 'NTFS_BITMAP_MISMATCH', 0]);
    // Trusting $Bitmap alone (--no-fs-check) saves it anyway.
    const trusted = await runCli(['save-image', extra, '-o', `${extra}.trusted`, '-q', '--no-fs-check']);
    expect(trusted.status, trusted.stderr).toBe(0);
    // A missing bit (a cluster of $MFT cleared in $Bitmap).
    const missing = await copy('demo');
    const info = JSON.parse((await runCli(['info', missing, '--json', '-q'])).stdout.toString()) as { mftLcn: number; nrClusters: number };
    expect(await bitmapBit(missing, info.mftLcn + 1, false)).toBe(true);
    const r2 = await saveBoth(missing);
    expect(r2.theirs).toBe(1);
    expect([r2.mine, r2.code]).toEqual([4, 'NTFS_BITMAP_MISMATCH']);
    // The tail bit for cluster nr_clusters (8191 here), also without the walk.
    const tail = await copy('demo');
    expect(info.nrClusters % 8).not.toBe(0);
    await bitmapBit(tail, info.nrClusters, false);
    const r3 = await saveBoth(tail);
    expect(r3.theirs).toBe(1);
    expect([r3.mine, r3.code]).toEqual([4, 'NTFS_BITMAP_MISMATCH']);
    const r4 = await runCli(['save-image', tail, '-o', `${tail}.nocheck`, '-q', '--no-fs-check']);
    expect(errorCode(r4.stderr)).toBe('NTFS_BITMAP_MISMATCH');
  });

  it("reads a $MFT whose own runlist continues in an extent record ($ATTRIBUTE_LIST in record 0)", async () => {
    const v = await copy('demo');
    await splitMftDataIntoExtent(v, 8, 16);
    const f = await SourceFile.open(v);
    try {
      const volume = await NtfsVolume.open(f);
      // Both pieces are read: VCNs 0..7 from record 0, the rest from extent record 16.
      expect(volume.mft.runs.length).toBe(2);
      expect(volume.mft.runs.map((r) => r.vcn)).toEqual([0, 8]);
      expect(volume.mft.runs[1]!.lcn).toBe(volume.mft.runs[0]!.lcn + 8);
    } finally {
      await f.close();
    }
    const r = await saveBoth(v);
    expect(r.theirs).toBe(0);
    expect(r.identical).toBe(true);
  });

  it('skips in-use records that fail their fixups as ntfsclone does, and refuses when clusters then disagree', async () => {
    // A torn record of a small file (resident data): nothing is missing, both tools save.
    const small = await copy('demo');
    await tearRecord(small, await findRecordByName(small, 'readme.txt'));
    const r1 = await saveBoth(small);
    expect(r1.theirs).toBe(0);
    expect(r1.identical).toBe(true);
    const warn = await runCli(['save-image', small, '-o', `${small}.w`, '--progress', 'json']);
    expect(warn.stderr).toContain('failed their checksums');
    // A torn record of a file with clusters: they become "extra" in $Bitmap, both refuse.
    const big = await copy('demo');
    await tearRecord(big, await findRecordByName(big, 'report-10.txt'));
    const r2 = await saveBoth(big);
    expect(r2.theirs).toBe(1);
    expect([r2.mine, r2.code, r2.oursExists]).toEqual([4, 'NTFS_BITMAP_MISMATCH', false]);
  });

  it('saves a device exactly nr_clusters clusters long (an empty last chunk) identically', async () => {
    const v = await copy('demo');
    const info = JSON.parse((await runCli(['info', v, '--json', '-q'])).stdout.toString()) as { volumeBytes: number };
    await truncate(v, info.volumeBytes);
    const r = await saveBoth(v);
    expect(r.theirs).toBe(0);
    expect(r.identical).toBe(true);
    // Restored, the file ends with the last cluster written (spec §5), as with ntfsclone -r.
    const restored = `${v}.raw`;
    const theirs = `${v}.theirs.raw`;
    expect((await runCli(['restore-image', r.ours, restored, '-q'])).status).toBe(0);
    expect((await ntfsclone(['-q', '-r', '-O', theirs, r.ref])).status).toBe(0);
    expect((await stat(restored)).size).toBe((await stat(theirs)).size);
    expect(await sameFile(restored, theirs)).toBe(true);
  });

  it('refuses an existing output without --overwrite, and a device smaller than its volume', async () => {
    const v = await copy('demo');
    const out = join(dir, 'exists.img');
    await writeFile(out, 'keep me');
    const r = await runCli(['save-image', v, '-o', out, '-q']);
    expect([r.status, errorCode(r.stderr)]).toEqual([4, 'OUTPUT_EXISTS']);
    expect(await readFile(out, 'utf8')).toBe('keep me');
    expect((await runCli(['save-image', v, '-o', out, '-q', '--overwrite'])).status).toBe(0);
    const restoredOver = await runCli(['restore-image', out, out.replace(/img$/, 'raw'), '-q']);
    expect(restoredOver.status).toBe(0);
    const again = await runCli(['restore-image', out, out.replace(/img$/, 'raw'), '-q']);
    expect([again.status, errorCode(again.stderr)]).toEqual([4, 'OUTPUT_EXISTS']);
    await truncate(v, 8 * 1024 * 1024);
    const small = await runCli(['save-image', v, '-o', join(dir, 'small.img'), '-q']);
    expect([small.status, errorCode(small.stderr)]).toEqual([3, 'NTFS_DEVICE_TOO_SMALL']);
  });

  it('refuses what is not an NTFS partition, and a whole disk with its own code', async () => {
    const junk = join(dir, 'junk.bin');
    await writeFile(junk, Buffer.alloc(1 << 20, 0x5a));
    const r = await runCli(['save-image', junk, '-o', join(dir, 'junk.img'), '-q']);
    expect([r.status, errorCode(r.stderr)]).toEqual([3, 'NTFS_NOT_NTFS']);
    if (haveWindowsVolumes()) {
      const disk = await unpackWindowsDisk('K4', dir);
      const w = await runCli(['save-image', disk, '-o', join(dir, 'disk.img'), '-q']);
      expect([w.status, errorCode(w.stderr)]).toEqual([3, 'NTFS_WHOLE_DISK']);
      expect(w.stderr).toContain('hint');
    }
    expect(await readdir(dir).then((f) => f.filter((x) => x.endsWith('.tmp')))).toEqual([]);
  });

  it('leaves no target behind when the image is truncated, and names the offset', async () => {
    const v = await fixtureVolume('demo');
    const img = join(dir, 'trunc.img');
    expect((await runCli(['save-image', v, '-o', img, '-q'])).status).toBe(0);
    const size = (await stat(img)).size;
    await truncate(img, size - 1000);
    const target = join(dir, 'trunc.raw');
    const r = await runCli(['restore-image', img, target, '-q']);
    expect([r.status, errorCode(r.stderr)]).toEqual([3, 'IMG_TRUNCATED']);
    expect(r.stderr).toContain(`0x${(size - 1000).toString(16)}`);
    expect(existsSync(target)).toBe(false);
    expect((await readdir(dir)).filter((x) => x.includes('trunc.raw'))).toEqual([]);
    // ntfsclone agrees that it is broken.
    expect((await ntfsclone(['-q', '-r', '-n', img])).status).toBe(1);
  });

  it('info describes a volume and an image; --verify decodes the whole image', async () => {
    const v = await fixtureVolume('demo');
    const img = join(dir, 'info.img');
    expect((await ntfsclone(['-q', '--save-image', '-O', img, v])).status).toBe(0);
    const header = await readFile(img);
    const inuse = Number(header.readBigUInt64LE(38));
    const vol = await runCli(['info', v, '--json']);
    expect(vol.status, vol.stderr).toBe(0);
    expect(JSON.parse(vol.stdout.toString())).toMatchObject({ kind: 'ntfs-volume', clusterSize: 4096, usedClusters: inuse, ntfsVersion: '3.1', dirty: false, imageBytes: header.byteLength });
    const im = await runCli(['info', img, '--json', '--verify']);
    expect(im.status, im.stderr).toBe(0);
    expect(JSON.parse(im.stdout.toString())).toMatchObject({ kind: 'ntfsclone-image', version: '10.1', inuse, clustersInImage: inuse + 1, imageBytes: header.byteLength, backupBootSector: true });
    const text = await runCli(['info', img]);
    expect(text.stdout.toString()).toMatch(/Image version\s+: 10\.1/);
    await truncate(img, header.byteLength - 1);
    const broken = await runCli(['info', img, '--verify']);
    expect([broken.status, errorCode(broken.stderr)]).toEqual([3, 'IMG_TRUNCATED']);
  });

  it('--progress json writes JSON lines to stderr and nothing else', async () => {
    const v = await fixtureVolume('demo');
    const r = await runCli(['save-image', v, '-o', join(dir, 'p.img'), '--progress', 'json']);
    expect(r.status, r.stderr).toBe(0);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; phase?: string });
    expect(events.some((e) => e.event === 'begin' && e.phase === 'Saving the image')).toBe(true);
    expect(events.some((e) => e.event === 'end')).toBe(true);
    const q = await runCli(['restore-image', join(dir, 'p.img'), join(dir, 'p.raw'), '-q']);
    expect([q.status, q.stderr]).toEqual([0, '']);
  });

  it.skipIf(!IS_ROOT)('restores onto a block device: gaps untouched, too small refused, --overwrite required', async () => {
    const v = await fixtureVolume('demo');
    const img = join(dir, 'dev.img');
    expect((await runCli(['save-image', v, '-o', img, '-q'])).status).toBe(0);
    const backing = join(dir, 'dev.backing');
    await writeFile(backing, Buffer.alloc((await stat(v)).size, 0xa5));
    const loop = (await runCommand('losetup', ['-f', '--show', backing])).stdout.toString().trim();
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    try {
      const no = await runCli(['restore-image', img, loop, '-q']);
      expect([no.status, errorCode(no.stderr)]).toEqual([4, 'OUTPUT_EXISTS']);
      const yes = await runCli(['restore-image', img, loop, '-q', '--overwrite']);
      expect(yes.status, yes.stderr).toBe(0);
      // Re-saving the device gives the same image; a free cluster still holds the old pattern.
      const again = join(dir, 'dev2.img');
      expect((await runCli(['save-image', loop, '-o', again, '-q'])).status).toBe(0);
      expect(await sameFile(img, again)).toBe(true);
      const dev = await readFile(backing);
      expect(dev.subarray(dev.byteLength - 600 * 4096, dev.byteLength - 599 * 4096).every((b) => b === 0xa5)).toBe(true);
    } finally {
      await runCommand('losetup', ['-d', loop]);
    }
    const small = join(dir, 'small.backing');
    await writeFile(small, Buffer.alloc(4 << 20));
    const loop2 = (await runCommand('losetup', ['-f', '--show', small])).stdout.toString().trim();
    try {
      const r = await runCli(['restore-image', img, loop2, '-q', '--overwrite']);
      expect([r.status, errorCode(r.stderr)]).toEqual([4, 'IO_TARGET_TOO_SMALL']);
    } finally {
      await runCommand('losetup', ['-d', loop2]);
    }
  });

  it.skipIf(!HAVE_FUSE)('refuses a source mounted read-write and a mounted target; accepts a read-only mount', async () => {
    const v = await copy('demo');
    const mnt = join(dir, 'mnt');
    await runCommand('mkdir', ['-p', mnt]);
    const ref = join(dir, 'mounted.ref');
    expect((await ntfsclone(['-q', '--save-image', '-O', ref, v])).status).toBe(0);
    const mount = async (opts: string[]): Promise<void> => {
      const m = await runCommand('ntfs-3g', [...opts, v, mnt]);
      expect(m.status, m.stderr).toBe(0);
      for (let i = 0; i < 50 && (await runCommand('mountpoint', ['-q', mnt])).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    };
    await mount([]);
    try {
      const rw = await runCli(['save-image', v, '-o', join(dir, 'mounted.img'), '-q']);
      expect([rw.status, errorCode(rw.stderr)]).toEqual([4, 'IO_MOUNTED']);
      const target = await runCli(['restore-image', ref, v, '-q', '--overwrite']);
      expect([target.status, errorCode(target.stderr)]).toEqual([4, 'IO_MOUNTED']);
    } finally {
      await runCommand('umount', [mnt]);
    }
    await mount(['-o', 'ro']);
    try {
      const ro = await runCli(['save-image', v, '-o', join(dir, 'mounted-ro.img'), '-q']);
      expect(ro.status, ro.stderr).toBe(0);
      expect(await sameFile(ref, join(dir, 'mounted-ro.img'))).toBe(true);
    } finally {
      await runCommand('umount', [mnt]);
    }
  });
});
