// backup, verify, list and restore as a user runs them, on the bundled demo disk (a file source: no
// LVM on the host; the LV path runs in test/e2e/backup.test.ts). The real tools are the oracles:
// ntfsclone and bzip2 for the images (the seed's pipeline), ntfsls/ntfscat for the files, sfdisk and
// cmp for the partition table, boot code and boot area, sha256sum for the manifest's checksums.

import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { HAVE_NTFSCLONE, fixtureVolume } from '../helpers/ntfs-fixtures.js';
import { DEMO_DISK_BYTES, DEMO_PARTITIONS, entries, errorCode, setNames, sfdiskDump, sha256sum, unpackDemoDisk } from '../helpers/demo-disk.js';
import { extractPartition, ntfsFileDigests, partitionFileDigests } from '../helpers/ntfs-file-digests.mjs';
import type { Manifest } from '../../src/backup/manifest.js';

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

describe.skipIf(!HAVE_NTFSCLONE)('backup, verify, list and restore of a disk image file', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let disk = '';
  let state = '';
  let dest = '';
  let set = '';
  let manifest: Manifest;
  let backupStderr = '';
  let originalDigests: Record<number, Record<string, string>> = {};
  let n = 0;
  /** A copy of the good set, to damage. */
  const copySet = async (): Promise<string> => {
    const copy = join(dir, `damaged-${n++}`, set.split('/').pop()!);
    await mkdir(join(copy, '..'), { recursive: true });
    expect((await runCommand('cp', ['-a', set, copy])).status).toBe(0);
    return copy;
  };

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-backup-'));
    disk = await unpackDemoDisk(join(dir, 'vm1.img'));
    state = join(dir, 'state');
    dest = join(dir, 'backups');
    const r = await runCli(['backup', disk, '--dest', dest, '--state-dir', state, '--level', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    backupStderr = r.stderr;
    set = (JSON.parse(r.stdout.toString()) as { set: string }).set;
    manifest = JSON.parse(await readFile(join(set, 'manifest.json'), 'utf8')) as Manifest;
    for (const p of DEMO_PARTITIONS) originalDigests[p.number] = partitionFileDigests(disk, p.startByte, p.sizeBytes);
  }, 120_000);
  afterAll(async () => cleanup());

  it('makes a set LABEL-STAMP holding the layout, one ntfsclone image per NTFS partition and the manifest, read live with a warning', async () => {
    expect(set).toMatch(/\/backups\/vm1-\d{8}T\d{6}Z$/);
    expect(await entries(dest)).toEqual([set.split('/').pop()]);
    expect(await entries(set)).toEqual(['layout.json', 'manifest.json', 'p1.ntfsclone.img.bz2', 'p5.ntfsclone.img.bz2']);
    expect(backupStderr).toMatch(/warning: .*vm1\.img is a file, not a logical volume: no snapshot was taken/);
    expect(manifest.label).toBe('vm1');
    expect(manifest.consistency).toBe('no-snapshot');
    expect(manifest.source).toMatchObject({ path: disk, kind: 'file', sizeBytes: DEMO_DISK_BYTES });
    expect(manifest.disk).toEqual({ sizeBytes: DEMO_DISK_BYTES, sectorSize: 512, label: 'dos', id: '0x5eed1e55', layoutFile: 'layout.json' });
    expect(manifest.partitions.map((p) => [p.number, p.startByte, p.sizeBytes, p.type, p.filesystem, p.image])).toEqual(
      DEMO_PARTITIONS.map((p) => [p.number, p.startByte, p.sizeBytes, '7', 'ntfs', `p${p.number}.ntfsclone.img.bz2`]),
    );
    expect(manifest.compression).toMatchObject({ format: 'bzip2', level: 1 });
    for (const f of manifest.files) {
      expect(f.sha256, f.name).toBe(await sha256sum(join(set, f.name)));
      expect(f.sizeBytes, f.name).toBe((await stat(join(set, f.name))).size);
    }
    // Nothing left in the state directory: no lock, no journal.
    expect(await entries(join(state, 'journal'))).toEqual([]);
  });

  it("stores each partition as the seed's pipeline would: bunzip2 gives ntfsclone --save-image's bytes, and ntfsclone -r restores them", async () => {
    for (const p of DEMO_PARTITIONS) {
      const part = extractPartition(disk, p.startByte, p.sizeBytes, dir);
      const ref = join(dir, `ref-p${p.number}.img`);
      expect((await runCommand('ntfsclone', ['-q', '--save-image', '-O', ref, part])).status).toBe(0);
      const image = join(set, `p${p.number}.ntfsclone.img.bz2`);
      const same = await runCommand('bash', ['-o', 'pipefail', '-c', `bunzip2 -c ${q(image)} | cmp - ${q(ref)}`]);
      expect(same.status, same.stdout.toString() + same.stderr).toBe(0);
      const raw = join(dir, `seed-restored-p${p.number}.ntfs`);
      const r = await runCommand('bash', ['-o', 'pipefail', '-c', `bunzip2 -c ${q(image)} | ntfsclone -q -r -O ${q(raw)} -`]);
      expect(r.status, r.stderr).toBe(0);
      expect(ntfsFileDigests(raw)).toEqual(originalDigests[p.number]);
      await rm(raw);
      await rm(ref);
      await rm(part);
    }
  });

  it('verify passes every check; --json lists them', async () => {
    const r = await runCli(['verify', set, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.toString()) as { ok: boolean; checks: { subject: string; check: string; ok: boolean }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => `${c.subject} ${c.check}`)).toEqual([
      'manifest.json decodes',
      'layout.json layout',
      'p1.ntfsclone.img.bz2 sha256',
      'p1.ntfsclone.img.bz2 bzip2',
      'p1.ntfsclone.img.bz2 image',
      'p5.ntfsclone.img.bz2 sha256',
      'p5.ntfsclone.img.bz2 bzip2',
      'p5.ntfsclone.img.bz2 image',
    ]);
  });

  it('verify --all DIR checks every set of a destination: one damaged set fails it (exit 7, named), unfinished ones are skipped, an empty one is an error', async () => {
    const all = join(dir, 'all');
    const name = set.split('/').pop()!;
    const older = name.replace(/T\d{6}Z$/, 'T000000Z');
    await mkdir(all);
    expect((await runCommand('cp', ['-a', set, join(all, name)])).status).toBe(0);
    expect((await runCommand('cp', ['-a', set, join(all, older)])).status).toBe(0);
    await mkdir(join(all, `.${older}.snapclone-999999-abcdef.tmp`)); // a killed run's set

    const good = await runCli(['verify', '--all', all]);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout.toString()).toContain(`${all}: all 2 sets verified`);
    const lines = (await runCli(['verify', '--all', all, '--json'])).stdout.toString().trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { set: string; ok: boolean }).ok)).toEqual([true, true]);

    const image = join(all, older, 'p1.ntfsclone.img.bz2');
    const bytes = await readFile(image);
    bytes[bytes.length >> 1] ^= 0x40;
    await writeFile(image, bytes);
    const bad = await runCli(['verify', '--all', all, '-q']);
    expect(bad.status).toBe(7);
    expect(errorCode(bad.stderr)).toBe('SET_VERIFY_FAILED');
    expect(bad.stderr.toString()).toContain(older);
    expect(bad.stderr.toString()).not.toContain(`: ${name}`);

    const empty = join(dir, 'all-empty');
    await mkdir(empty);
    const none = await runCli(['verify', '--all', empty, '-q']);
    expect(none.status).toBe(3);
    expect(errorCode(none.stderr)).toBe('SET_NONE_FOUND');
    expect((await runCli(['verify'])).status).toBe(2);
    expect((await runCli(['verify', set, '--all', all])).status).toBe(2);
  });

  it('restores onto a new file: the same partition table, boot code, boot area and files', async () => {
    const target = join(dir, 'restored.img');
    const r = await runCli(['restore', set, target, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect((await stat(target)).size).toBe(DEMO_DISK_BYTES);
    expect(await sfdiskDump(target)).toBe(await sfdiskDump(disk));
    // MBR (boot code, signature, table) and the boot area up to the first partition, byte for byte.
    expect((await runCommand('cmp', ['-n', String(DEMO_PARTITIONS[0].startByte), disk, target])).status).toBe(0);
    for (const p of DEMO_PARTITIONS) expect(partitionFileDigests(target, p.startByte, p.sizeBytes), `partition ${p.number}`).toEqual(originalDigests[p.number]);
    const report = JSON.parse(r.stdout.toString()) as { partitions: { number: number; check: string }[]; layout: { exactReplay: boolean } };
    expect(report.layout.exactReplay).toBe(true);
    expect(report.partitions.map((p) => p.number)).toEqual([1, 5]);
    // Nothing but the target was created beside it.
    expect((await entries(dir)).filter((e) => e.startsWith('.restored'))).toEqual([]);
    await rm(target);
  });

  it('refuses to replace an existing file without --overwrite, and leaves it as it was', async () => {
    const target = join(dir, 'existing.img');
    await writeFile(target, 'precious');
    const r = await runCli(['restore', set, target, '-q']);
    expect(r.status).toBe(4);
    expect(errorCode(r.stderr)).toBe('OUTPUT_EXISTS');
    expect(await readFile(target, 'utf8')).toBe('precious');
    const ok = await runCli(['restore', set, target, '--overwrite', '-q']);
    expect(ok.status, ok.stderr).toBe(0);
    expect((await stat(target)).size).toBe(DEMO_DISK_BYTES);
    await rm(target);
  });

  it('lists the set as complete and no-snapshot, newest first', async () => {
    const r = await runCli(['list', dest, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const listed = JSON.parse(r.stdout.toString()) as { sets: { name: string; status: string; complete: boolean; consistency: string; quiesced: boolean; sizeBytes: number }[] };
    expect(listed.sets).toHaveLength(1);
    expect(listed.sets[0]).toMatchObject({ name: set.split('/').pop(), status: 'complete', complete: true, consistency: 'no-snapshot', quiesced: false });
    expect(listed.sets[0]!.sizeBytes).toBe(manifest.files.reduce((a, f) => a + f.sizeBytes, 0));
    const text = await runCli(['list', dest]);
    expect(text.stdout.toString()).toMatch(/vm1-\d{8}T\d{6}Z .* complete +no-snapshot/);
  });

  describe('a damaged set: verify fails with the code that says what, and restore writes nothing', () => {
    const restoreRefuses = async (damaged: string, code: string, status: number): Promise<void> => {
      const target = join(dir, `never-${n++}.img`);
      const r = await runCli(['restore', damaged, target, '-q']);
      expect(errorCode(r.stderr), r.stderr).toBe(code);
      expect(r.status).toBe(status);
      expect(existsSync(target)).toBe(false);
      expect((await entries(dir)).filter((e) => e.includes('never-'))).toEqual([]);
    };

    it('one flipped byte in an image: SET_CHECKSUM_MISMATCH (and its bzip2 CRC), exit 7; restore stops before reporting success', async () => {
      const damaged = await copySet();
      const image = join(damaged, 'p5.ntfsclone.img.bz2');
      const bytes = await readFile(image);
      bytes[Math.floor(bytes.length / 2)] ^= 0x01;
      await writeFile(image, bytes);
      const v = await runCli(['verify', damaged, '--json']);
      expect(v.status).toBe(7);
      expect(errorCode(v.stderr)).toBe('SET_CHECKSUM_MISMATCH');
      const report = JSON.parse(v.stdout.toString()) as { ok: boolean; checks: { subject: string; check: string; ok: boolean; code?: string }[] };
      expect(report.ok).toBe(false);
      const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.subject} ${c.check} ${c.code}`);
      expect(failed[0]).toBe('p5.ntfsclone.img.bz2 sha256 SET_CHECKSUM_MISMATCH');
      expect(failed.some((f) => /^p5\.ntfsclone\.img\.bz2 bzip2 BZ2_/.test(f)) || failed.some((f) => f.startsWith('p5.ntfsclone.img.bz2 image')), failed.join('; ')).toBe(true);
      expect(report.checks.filter((c) => c.subject.startsWith('p1')).every((c) => c.ok)).toBe(true);
      // The restore reads p1 first, then fails on p5: the file target is removed.
      const target = join(dir, 'flipped.img');
      const r = await runCli(['restore', damaged, target, '-q']);
      expect(r.status).not.toBe(0);
      expect(['SET_CHECKSUM_MISMATCH', 'BZ2_BLOCK_CRC', 'BZ2_DATA', 'BZ2_STREAM_CRC']).toContain(errorCode(r.stderr));
      expect(r.stderr).toContain('p5.ntfsclone.img.bz2');
      expect(existsSync(target)).toBe(false);
    });

    it('a flipped byte that bzip2 cannot see (in the layout file): SET_CHECKSUM_MISMATCH', async () => {
      const damaged = await copySet();
      const layout = join(damaged, 'layout.json');
      const text = await readFile(layout, 'utf8');
      await writeFile(layout, text.replace('"createdBy": "snapclone', '"createdBy": "Snapclone'));
      const v = await runCli(['verify', damaged, '-q']);
      expect(v.status).toBe(7);
      expect(errorCode(v.stderr)).toBe('SET_CHECKSUM_MISMATCH');
      await restoreRefuses(damaged, 'SET_CHECKSUM_MISMATCH', 7);
    });

    it('a missing image: SET_FILE_MISSING, and the restore is refused before the target is created', async () => {
      const damaged = await copySet();
      await rm(join(damaged, 'p1.ntfsclone.img.bz2'));
      const v = await runCli(['verify', damaged, '--json']);
      expect(v.status).toBe(3);
      expect(errorCode(v.stderr)).toBe('SET_FILE_MISSING');
      await restoreRefuses(damaged, 'SET_FILE_MISSING', 3);
      const l = await runCli(['list', join(damaged, '..'), '--json']);
      expect((JSON.parse(l.stdout.toString()) as { sets: { status: string }[] }).sets[0]!.status).toBe('damaged');
    });

    it('a manifest that is not valid: SET_BAD_MANIFEST; a set without one: SET_NO_MANIFEST, listed incomplete', async () => {
      const bad = await copySet();
      const m = JSON.parse(await readFile(join(bad, 'manifest.json'), 'utf8')) as Manifest;
      m.partitions[0]!.sizeBytes = 2 ** 40;
      await writeFile(join(bad, 'manifest.json'), JSON.stringify(m));
      const v = await runCli(['verify', bad, '-q']);
      expect(errorCode(v.stderr)).toBe('SET_BAD_MANIFEST');
      expect(v.status).toBe(3);
      await restoreRefuses(bad, 'SET_BAD_MANIFEST', 3);

      const none = await copySet();
      await rm(join(none, 'manifest.json'));
      expect(errorCode((await runCli(['verify', none, '-q'])).stderr)).toBe('SET_NO_MANIFEST');
      await restoreRefuses(none, 'SET_NO_MANIFEST', 3);
      const l = await runCli(['list', join(none, '..'), '--json']);
      expect((JSON.parse(l.stdout.toString()) as { sets: { status: string; complete: boolean }[] }).sets[0]).toMatchObject({ status: 'incomplete', complete: false });
    });

    it('a manifest that disagrees with the layout (a partition moved): SET_LAYOUT_MISMATCH', async () => {
      const damaged = await copySet();
      const m = JSON.parse(await readFile(join(damaged, 'manifest.json'), 'utf8')) as Manifest;
      m.partitions[0]!.startByte += 4096;
      await writeFile(join(damaged, 'manifest.json'), JSON.stringify(m));
      const v = await runCli(['verify', damaged, '-q']);
      expect(errorCode(v.stderr)).toBe('SET_LAYOUT_MISMATCH');
      expect(v.status).toBe(3);
      await restoreRefuses(damaged, 'SET_LAYOUT_MISMATCH', 3);
    });
  });

  it("restores a set whose image was made by the seed's own pipeline (ntfsclone -s -o - | bzip2 -2)", async () => {
    const seedSet = await copySet();
    const p = DEMO_PARTITIONS[1];
    const part = extractPartition(disk, p.startByte, p.sizeBytes, dir);
    const image = join(seedSet, 'p5.ntfsclone.img.bz2');
    const made = await runCommand('bash', ['-o', 'pipefail', '-c', `ntfsclone -q --save-image -o - ${q(part)} | bzip2 -2 > ${q(image)}`]);
    expect(made.status, made.stderr).toBe(0);
    const m = JSON.parse(await readFile(join(seedSet, 'manifest.json'), 'utf8')) as Manifest;
    const f = m.files.find((x) => x.name === 'p5.ntfsclone.img.bz2')!;
    f.sha256 = await sha256sum(image);
    f.sizeBytes = (await stat(image)).size;
    await writeFile(join(seedSet, 'manifest.json'), JSON.stringify(m));
    const v = await runCli(['verify', seedSet, '-q']);
    expect(v.status, v.stderr).toBe(0);
    const target = join(dir, 'from-seed.img');
    const r = await runCli(['restore', seedSet, target, '-q']);
    expect(r.status, r.stderr).toBe(0);
    expect(partitionFileDigests(target, p.startByte, p.sizeBytes)).toEqual(originalDigests[5]);
    await rm(target);
    await rm(part);
  });

  it('four backups with --keep 3 leave exactly the three newest complete sets', async () => {
    const rot = join(dir, 'rotation');
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await runCli(['backup', disk, '--dest', rot, '--state-dir', state, '--level', '1', '--keep', '3', '--name', 'winxp', '--json', '-q']);
      expect(r.status, r.stderr).toBe(0);
      const rep = JSON.parse(r.stdout.toString()) as { name: string; rotation: { deleted: string[]; kept: string[] } };
      made.push(rep.name);
      expect(rep.rotation.deleted).toEqual(i === 3 ? [made[0]] : []);
    }
    expect(new Set(made).size).toBe(4);
    expect(await entries(rot)).toEqual(made.slice(1).sort());
    const l = JSON.parse((await runCli(['list', rot, '--json'])).stdout.toString()) as { sets: { name: string; status: string }[] };
    expect(l.sets.map((s) => [s.name, s.status])).toEqual(made.slice(1).reverse().map((name) => [name, 'complete']));
  });

  it('a full destination fails the backup cleanly: IO_ENOSPC, exit 5, no set and no temporary left', async () => {
    const small = join(dir, 'small');
    await mkdir(small);
    // A private 300 KiB tmpfs (a user namespace: no root needed, and it vanishes with the process).
    const script = `mount -t tmpfs -o size=300k tmpfs ${q(small)} && node ${q(CLI_PATH)} backup ${q(disk)} --dest ${q(small)} --state-dir ${q(state)} --level 1 -q; s=$?; ls -A ${q(small)}; exit $s`;
    const r = await runCommand('unshare', ['-rm', 'sh', '-c', script]);
    if (r.status !== 5 && /unshare|mount/.test(r.stderr) && !r.stderr.includes('snapclone')) {
      console.warn(`*** cannot mount a tmpfs in a user namespace here (${r.stderr.trim()}): the disk-full test is SKIPPED ***`);
      return;
    }
    expect(errorCode(r.stderr), r.stderr).toBe('IO_ENOSPC');
    expect(r.status).toBe(5);
    expect(r.stdout.toString().trim()).toBe(''); // ls -A of the full destination: empty
    expect(await entries(join(state, 'journal'))).toEqual([]);
  });

  it('--agent needs a snapshot: a file source is refused (USAGE_AGENT_NEEDS_SNAPSHOT) before anything is written', async () => {
    const key = join(dir, 'hv.key');
    expect((await runCli(['keygen', '-o', key, '-q'])).status).toBe(0);
    const d = join(dir, 'agent-dest');
    const r = await runCli(['backup', disk, '--dest', d, '--state-dir', state, '--agent', '127.0.0.1:9', '--key', key, '-q']);
    expect(errorCode(r.stderr)).toBe('USAGE_AGENT_NEEDS_SNAPSHOT');
    expect(r.status).toBe(2);
    expect(existsSync(d)).toBe(false);
    const alone = await runCli(['backup', disk, '--dest', d, '--agent', '127.0.0.1:9', '-q']);
    expect(errorCode(alone.stderr)).toBe('USAGE_AGENT_OPTIONS');
  });

  it('--raw saves a partition byte for byte and restores it so', async () => {
    const d = join(dir, 'raw');
    const r = await runCli(['backup', disk, '--dest', d, '--state-dir', state, '--level', '1', '--raw', '5', '--json', '-q']);
    expect(r.status, r.stderr).toBe(0);
    const rawSet = (JSON.parse(r.stdout.toString()) as { set: string }).set;
    expect(await entries(rawSet)).toEqual(['layout.json', 'manifest.json', 'p1.ntfsclone.img.bz2', 'p5.img.bz2']);
    const p = DEMO_PARTITIONS[1];
    const part = extractPartition(disk, p.startByte, p.sizeBytes, dir);
    const same = await runCommand('bash', ['-o', 'pipefail', '-c', `bunzip2 -c ${q(join(rawSet, 'p5.img.bz2'))} | cmp - ${q(part)}`]);
    expect(same.status, same.stdout.toString()).toBe(0);
    expect((await runCli(['verify', rawSet, '-q'])).status).toBe(0);
    const target = join(dir, 'raw-restored.img');
    expect((await runCli(['restore', rawSet, target, '-q'])).status).toBe(0);
    const back = extractPartition(target, p.startByte, p.sizeBytes, join(dir, 'raw'));
    expect((await runCommand('cmp', [part, back])).status).toBe(0);
    await rm(target);
    await rm(part);
  });

  it('a disk without a partition table whose sector 0 is NTFS is one whole-disk image; its restore re-saves identically', async () => {
    const volume = await fixtureVolume('c4k-many');
    const d = join(dir, 'bare');
    const r = await runCli(['backup', volume, '--dest', d, '--state-dir', state, '--level', '1', '--name', 'bare', '--json', '-q']);
    expect(r.status, r.stderr).toBe(0);
    const bareSet = (JSON.parse(r.stdout.toString()) as { set: string }).set;
    expect(await entries(bareSet)).toEqual(['disk.ntfsclone.img.bz2', 'manifest.json']);
    const m = JSON.parse(await readFile(join(bareSet, 'manifest.json'), 'utf8')) as Manifest;
    expect(m.disk.label).toBe('none');
    expect(m.partitions.map((p) => [p.number, p.startByte, p.filesystem])).toEqual([[0, 0, 'ntfs']]);
    const target = join(dir, 'bare-restored.img');
    expect((await runCli(['restore', bareSet, target, '-q'])).status).toBe(0);
    // ntfsclone itself: the image of the restored volume is the image of the original.
    const a = await runCommand('bash', ['-o', 'pipefail', '-c', `cmp <(ntfsclone -q -s -o - ${q(volume)}) <(ntfsclone -q -s -o - ${q(target)})`]);
    expect(a.status, a.stdout.toString()).toBe(0);
    await rm(target);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a block device smaller than the set before writing (SET_TARGET_TOO_SMALL, with the size needed)', async () => {
    const backing = join(dir, 'small-device');
    await writeFile(backing, Buffer.alloc(8 * 1024 * 1024, 0x5a));
    const loop = await runCommand('losetup', ['-f', '--show', backing]);
    if (loop.status !== 0) {
      console.warn(`*** no loop device here (${loop.stderr.trim()}): the too-small-device test is SKIPPED ***`);
      return;
    }
    const device = loop.stdout.toString().trim();
    try {
      await chmod(backing, 0o600);
      const r = await runCli(['restore', set, device, '--overwrite', '-q']);
      expect(errorCode(r.stderr)).toBe('SET_TARGET_TOO_SMALL');
      expect(r.status).toBe(4);
      expect(r.stderr).toContain(`${DEMO_DISK_BYTES} bytes`);
      expect((await readFile(backing)).every((b) => b === 0x5a)).toBe(true);
    } finally {
      await runCommand('losetup', ['-d', device]);
    }
  });
});
