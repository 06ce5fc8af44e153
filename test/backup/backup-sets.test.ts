// Backup sets on disk without any imaging: the set writer (temporary directory, hashes computed while
// writing, manifest last, rename, name bumps, abort), the inventory that `list` and rotation use
// (complete, damaged, incomplete, in-progress and abandoned sets), and rotation on disk. The oracle
// for hashes is sha256sum.

import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SetWriter } from '../../src/backup/set-writer.js';
import { listSets, readManifest } from '../../src/backup/set-inventory.js';
import { pruneSets, removeAbandonedSets } from '../../src/backup/prune-sets.js';
import { defaultStateDir } from '../../src/backup/state-dir.js';
import { OWNER_FILE } from '../../src/backup/set-writer.js';
import { ResourceJournal } from '../../src/backup/resource-journal.js';
import { parseJournal, pendingResources } from '../../src/backup/journal-format.js';
import { ensureStateDir } from '../../src/backup/state-dir.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from '../../src/backup/manifest.js';
import { runShutdownHooks } from '../../src/io/shutdown.js';
import { runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('snapclone-sets-'));
});
afterEach(() => cleanup());

function manifestFor(label: string, createdAt: Date): Omit<Manifest, 'files'> {
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    tool: { name: 'snapclone', version: 'test' },
    label,
    createdAt: createdAt.toISOString(),
    completedAt: createdAt.toISOString(),
    source: { path: '/dev/vg/lv', kind: 'lvm-snapshot', sizeBytes: 1 << 20 },
    consistency: 'crash-consistent',
    disk: { sizeBytes: 1 << 20, sectorSize: 512, label: 'none' },
    partitions: [
      { number: 0, startByte: 0, sizeBytes: 1 << 20, type: '', filesystem: 'raw', image: 'disk.img.bz2', imageFormat: 'raw+bzip2', imageBytes: 1 << 20 },
    ],
    compression: { format: 'bzip2', level: 1, threads: 1 },
    timings: { totalSeconds: 1, imagingSeconds: 1 },
  };
}

/** A complete set of `label` taken at `iso`, holding one small file. */
async function makeSet(destDir: string, label: string, iso: string, content = `data of ${label} ${iso}`): Promise<string> {
  const date = new Date(iso);
  const w = await SetWriter.create({ destDir, label, startedAt: date });
  await w.writeBytes('disk.img.bz2', new TextEncoder().encode(content));
  return (await w.commit(manifestFor(label, date))).path;
}

async function sha256sum(path: string): Promise<string> {
  const r = await runCommand('sha256sum', [path]);
  return r.stdout.toString().split(' ')[0]!;
}

describe('SetWriter', () => {
  it('writes under a hidden temporary name, records sizes and SHA-256 as written, and renames when complete', async () => {
    const dest = join(dir, 'dest');
    const started = new Date('2026-11-26T10:26:15.123Z');
    const w = await SetWriter.create({ destDir: dest, label: 'vm1', startedAt: started });
    expect(w.temporaryPath.startsWith(join(dest, '.vm1-20261126T102615Z.snapclone-'))).toBe(true);
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 50; i++) yield new Uint8Array(10_000).fill(i);
    };
    const image = await w.writeStream('disk.img.bz2', chunks());
    const layout = await w.writeBytes('layout.json', new TextEncoder().encode('{"x":1}\n'));
    expect(await readdir(dest)).toEqual([w.temporaryPath.split('/').pop()]);
    // While it is built, the set says who builds it.
    const owner = JSON.parse(await readFile(join(w.temporaryPath, OWNER_FILE), 'utf8')) as { owner: { pid: number } };
    expect(owner.owner.pid).toBe(process.pid);
    const { path, name, manifest } = await w.commit(manifestFor('vm1', started));
    expect(name).toBe('vm1-20261126T102615Z');
    expect(await readdir(dest)).toEqual([name]);
    expect((await readdir(path)).sort()).toEqual(['disk.img.bz2', 'layout.json', 'manifest.json']);
    expect(image.sizeBytes).toBe(500_000);
    expect(image.sha256).toBe(await sha256sum(join(path, 'disk.img.bz2')));
    expect(layout.sha256).toBe(await sha256sum(join(path, 'layout.json')));
    expect(manifest.files).toEqual([image, layout]);
    expect(await readManifest(path)).toEqual(manifest);
    expect((await stat(path)).mode & 0o777).toBe(0o700);
  });

  it('moves on by a second when a set of the label already has the name', async () => {
    const a = await makeSet(dir, 'vm', '2026-01-01T00:00:00Z');
    const b = await makeSet(dir, 'vm', '2026-01-01T00:00:00Z');
    expect(a.endsWith('vm-20260101T000000Z')).toBe(true);
    expect(b.endsWith('vm-20260101T000001Z')).toBe(true);
  });

  it('abort() and the shutdown hook leave nothing; the journal lists the temporary while it exists', async () => {
    const state = join(dir, 'state');
    await ensureStateDir(state);
    const journal = await ResourceJournal.begin(state, 'backup', '/tmp/x.img');
    const w = await SetWriter.create({ destDir: join(dir, 'd'), label: 'vm', startedAt: new Date(), journal });
    await w.writeBytes('a', new Uint8Array(10));
    let parsed = parseJournal(await readFile(journal.path, 'utf8'), journal.path);
    expect(pendingResources(parsed).map((r) => r.resource)).toEqual([{ type: 'temp-dir', path: w.temporaryPath }]);
    // SIGINT: the CLI runs the shutdown hooks.
    await runShutdownHooks();
    expect(await readdir(join(dir, 'd'))).toEqual([]);
    parsed = parseJournal(await readFile(journal.path, 'utf8'), journal.path);
    expect(pendingResources(parsed)).toEqual([]);
    await w.abort(); // twice is fine
    expect(await journal.finish()).toBe('deleted');
  });

  it('a failing source fails the write and leaves the file out of the manifest', async () => {
    const w = await SetWriter.create({ destDir: dir, label: 'vm', startedAt: new Date() });
    const failing = async function* (): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(100);
      throw new Error('read error');
    };
    await expect(w.writeStream('disk.img.bz2', failing())).rejects.toThrow('read error');
    expect(w.writtenFiles).toEqual([]);
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('listSets', () => {
  it('tells complete, damaged, incomplete, in-progress and abandoned sets apart, newest first', async () => {
    const complete = await makeSet(dir, 'vm', '2026-01-05T00:00:00Z');
    const damaged = await makeSet(dir, 'vm', '2026-01-04T00:00:00Z');
    await truncate(join(damaged, 'disk.img.bz2'), 3);
    const missing = await makeSet(dir, 'vm', '2026-01-03T00:00:00Z');
    await rm(join(missing, 'disk.img.bz2'));
    const noManifest = await makeSet(dir, 'vm', '2026-01-02T00:00:00Z');
    await rm(join(noManifest, 'manifest.json'));
    const badManifest = await makeSet(dir, 'vm', '2026-01-01T00:00:00Z');
    await writeFile(join(badManifest, 'manifest.json'), '{"format":"snapclone-backup-set"');
    // A live run's temporary (ours), and a dead run's (pid 2^22+1 is beyond pid_max on Linux).
    await mkdir(join(dir, `.vm-20260106T000000Z.snapclone-${process.pid}-abcdef.tmp`));
    await mkdir(join(dir, '.vm-20251231T000000Z.snapclone-4194305-abcdef.tmp'));
    await writeFile(join(dir, 'notes.txt'), 'not a set');
    await mkdir(join(dir, 'other-dir'));

    const sets = await listSets(dir);
    expect(sets.map((s) => [s.name.replace(/-abcdef\.tmp$/, ''), s.status, s.problem?.code])).toEqual([
      [`.vm-20260106T000000Z.snapclone-${process.pid}`, 'in-progress', 'SET_IN_PROGRESS'],
      ['vm-20260105T000000Z', 'complete', undefined],
      ['vm-20260104T000000Z', 'damaged', 'SET_FILE_SIZE'],
      ['vm-20260103T000000Z', 'damaged', 'SET_FILE_MISSING'],
      ['vm-20260102T000000Z', 'incomplete', 'SET_NO_MANIFEST'],
      ['vm-20260101T000000Z', 'incomplete', 'SET_BAD_MANIFEST'],
      ['.vm-20251231T000000Z.snapclone-4194305', 'abandoned', 'SET_ABANDONED'],
    ]);
    expect(sets[1]!.path).toBe(complete);
    expect(sets[1]!.sizeBytes).toBe(`data of vm 2026-01-05T00:00:00Z`.length);
  });

  it("judges temporaries by their owner file: a dead owner's is abandoned, another host's in progress", async () => {
    const dead = join(dir, `.vm-20260101T000000Z.snapclone-${process.pid}-aaaaaa.tmp`);
    const remote = join(dir, '.vm-20260102T000000Z.snapclone-4194305-bbbbbb.tmp');
    await mkdir(dead);
    await mkdir(remote);
    // The name's pid is ours (alive), but the owner file names a dead process: the file wins.
    await writeFile(join(dead, OWNER_FILE), JSON.stringify({ owner: { pid: 4194305, hostname: (await import('node:os')).hostname() } }));
    await writeFile(join(remote, OWNER_FILE), JSON.stringify({ owner: { pid: 4194305, hostname: 'another-host' } }));
    await writeFile(join(remote, 'p1.ntfsclone.img.bz2'), 'half');
    const sets = await listSets(dir);
    expect(sets.map((s) => [s.path, s.status, s.pid])).toEqual([
      [remote, 'in-progress', 4194305],
      [dead, 'abandoned', 4194305],
    ]);
    expect(sets[0]!.problem?.message).toContain('on host another-host');
    expect(sets[0]!.sizeBytes).toBe(4);
    const dry = await removeAbandonedSets(dir, { dryRun: true });
    expect(dry.map((a) => [a.target, a.outcome, a.foundBy])).toEqual([[dead, 'would-remove', 'dest-scan']]);
    const done = await removeAbandonedSets(dir);
    expect(done.map((a) => [a.target, a.outcome])).toEqual([[dead, 'removed']]);
    expect(await readdir(dir)).toEqual([remote.split('/').pop()]);
  });

  it('finds nothing in a directory that does not exist', async () => {
    expect(await listSets(join(dir, 'nope'))).toEqual([]);
  });
});

describe('pruneSets (rotation on disk)', () => {
  it('keeps the newest N complete sets of the label, and nothing else is touched', async () => {
    for (const day of ['01', '02', '03', '04', '05']) await makeSet(dir, 'vm', `2026-01-${day}T00:00:00Z`);
    await makeSet(dir, 'other', '2025-01-01T00:00:00Z');
    const damaged = await makeSet(dir, 'vm', '2025-06-01T00:00:00Z');
    await rm(join(damaged, 'disk.img.bz2'));
    const state = join(dir, '.state');
    await ensureStateDir(state);
    const journal = await ResourceJournal.begin(state, 'backup', 'vg/vm');
    const r = await pruneSets(dir, 'vm', 3, { journal });
    expect(r.deleted.map((s) => s.name)).toEqual(['vm-20260101T000000Z', 'vm-20260102T000000Z']);
    expect(r.kept.map((s) => s.name)).toEqual(['vm-20260105T000000Z', 'vm-20260104T000000Z', 'vm-20260103T000000Z']);
    expect((await readdir(dir)).filter((n) => n !== '.state').sort()).toEqual([
      'other-20250101T000000Z',
      'vm-20250601T000000Z',
      'vm-20260103T000000Z',
      'vm-20260104T000000Z',
      'vm-20260105T000000Z',
    ]);
    // Every deletion went through a journaled temporary, now gone.
    expect(pendingResources(parseJournal(await readFile(journal.path, 'utf8'), journal.path))).toEqual([]);
    expect(await journal.finish()).toBe('deleted');
  });

  it('never deletes the only complete set, whatever --keep says', async () => {
    await makeSet(dir, 'vm', '2026-01-01T00:00:00Z');
    const incomplete = await makeSet(dir, 'vm', '2026-01-02T00:00:00Z');
    await rm(join(incomplete, 'manifest.json'));
    const r = await pruneSets(dir, 'vm', 0);
    expect(r.deleted).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['vm-20260101T000000Z', 'vm-20260102T000000Z']);
  });
});

describe('the default state directory', () => {
  it('is /var/lib/snapclone for root, the XDG state directory (or ~/.local/state) for other users', () => {
    expect(defaultStateDir(0)).toBe('/var/lib/snapclone');
    const saved = process.env['XDG_STATE_HOME'];
    try {
      process.env['XDG_STATE_HOME'] = '/home/u/.state';
      expect(defaultStateDir(1000)).toBe('/home/u/.state/snapclone');
      delete process.env['XDG_STATE_HOME'];
      expect(defaultStateDir(1000)).toMatch(/\/\.local\/state\/snapclone$/);
    } finally {
      if (saved === undefined) delete process.env['XDG_STATE_HOME'];
      else process.env['XDG_STATE_HOME'] = saved;
    }
  });
});
