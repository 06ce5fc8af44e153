// The LVM layer and the crash-safety primitives on real LVM, in one VM boot: test/e2e/vm/lvm-job.sh
// builds VGs on loop devices, kills runs that hold snapshots, runs `snapclone cleanup` and the
// scenarios in lvm-scenarios.mjs; this file asserts on what they recorded. Plain `lvs`, `dmsetup ls`
// and `ls` outputs taken in the VM are the oracle.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { runInVm, SKIP_VM, vmFailure, type VmRun } from '../helpers/vm.js';
import { fullCopySnapshotBytes } from '../../src/lvm/snapshot-size.js';
import { dmName } from '../../src/lvm/lvm-names.js';

const MiB = 1024 * 1024;

interface Action {
  kind: string;
  target: string;
  foundBy: string;
  outcome: string;
  leftBy?: string;
  code?: string;
}
interface Report {
  dryRun: boolean;
  actions: Action[];
  removedCount: number;
  failedCount: number;
  liveRuns: string[];
}
interface Holder {
  pid: number;
  snapshot: string;
  journal: string;
  lock: string;
  setDir: string;
}

/** `vg|lv|tags` lines as lvm-job.sh's snapshots() writes them. */
function lvNames(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [vg, lv] = l.split('|');
      return `${vg}/${lv}`;
    });
}

function dmList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.split('\t')[0]!.trim())
    .filter((n) => n !== '' && n !== 'No devices found');
}

/** `ls -A locks journal` output: the names listed under each directory. */
function stateListing(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.endsWith(':'));
}

describe.skipIf(SKIP_VM)('LVM on real device-mapper (VM)', () => {
  let run: VmRun;
  let s: any;
  let victim1: Holder;
  let victim2: Holder;
  let victim3: Holder;
  const json = async <T>(name: string): Promise<T> => JSON.parse(await run.read(name)) as T;

  beforeAll(async () => {
    run = await runInVm(
      `export REPO=${REPO_ROOT.replace(/\/$/, '')} OUT=$PWD\nexec bash "$REPO/test/e2e/vm/lvm-job.sh"\n`,
      { timeoutSeconds: 900 },
    );
    if (run.status === 0) {
      s = await json('scenarios.json');
      victim1 = await json('victim1.json');
      victim2 = await json('victim2.json');
      victim3 = await json('victim3.json');
    }
    console.log(
      `LVM VM job: boot ${run.timings?.bootSeconds} s, job ${run.timings?.jobSeconds} s, wall ${run.timings?.wallSeconds} s; ` +
        `steps: ${(await run.read('timings.txt').catch(() => '')).trim().replace(/\n/g, ', ')}`,
    );
  }, 1_100_000);

  afterAll(async () => {
    await run?.cleanup();
  });

  it('runs the whole job', () => {
    expect(run.status, vmFailure(run)).toBe(0);
  });

  describe('a run killed with SIGKILL, then `snapclone cleanup`', () => {
    it('left a snapshot, a partition map, a lock and a journal behind', async () => {
      const before = lvNames(await run.read('kill-before.lvs'));
      expect(before).toContain(victim1.snapshot);
      expect(before).toContain('vm-disks/snapclone-other-20200101T000000Z');
      expect(before).toContain('vm-disks/keep-me');
      const [vg, name] = victim1.snapshot.split('/') as [string, string];
      expect(dmList(await run.read('kill-before.dm'))).toContain(`${dmName(vg, name)}1`);
      const state = stateListing(await run.read('kill-before.state'));
      expect(state).toContain('vm--disks-win--xp.lock');
      expect(state.filter((n) => n.endsWith('.jsonl'))).toHaveLength(1);
    });

    it('--dry-run reports everything and removes nothing', async () => {
      expect((await run.read('cleanup-dry.status')).trim()).toBe('0');
      const dry = await json<Report>('cleanup-dry.json');
      expect(dry.dryRun).toBe(true);
      expect(dry.actions.every((a) => a.outcome === 'would-remove')).toBe(true);
      const targets = dry.actions.map((a) => `${a.kind} ${a.target}`);
      expect(targets).toContain(`snapshot ${victim1.snapshot}`);
      expect(targets).toContain(`temp-dir ${victim1.setDir}`);
      expect(targets).toContain('snapshot vm-disks/snapclone-other-20200101T000000Z');
      expect(targets).toContain(`lock ${victim1.lock}`);
      expect(await run.read('after-dry.lvs')).toBe(await run.read('kill-before.lvs'));
    });

    it('removes the snapshot, its partition map, the set, the journal and the lock, and reports each', async () => {
      expect((await run.read('cleanup.status')).trim(), await run.read('cleanup.err')).toBe('0');
      const report = await json<Report>('cleanup.json');
      expect(report.failedCount).toBe(0);
      const done = (kind: string, target: string, foundBy: string): Action | undefined =>
        report.actions.find((a) => a.kind === kind && a.target === target && a.foundBy === foundBy && a.outcome === 'removed');
      const [vg, name] = victim1.snapshot.split('/') as [string, string];
      expect(done('snapshot', victim1.snapshot, 'journal')?.leftBy).toContain(`pid ${victim1.pid}`);
      expect(done('mapping', `${dmName(vg, name)}1`, 'journal')).toBeDefined();
      expect(done('temp-dir', victim1.setDir, 'journal')).toBeDefined();
      expect(done('journal', victim1.journal, 'journal')).toBeDefined();
      expect(done('lock', victim1.lock, 'lock-file')).toBeDefined();
      // Found by its tag alone: no journal lists it.
      expect(done('snapshot', 'vm-disks/snapclone-other-20200101T000000Z', 'tag')).toBeDefined();
      expect(report.actions.some((a) => a.target.includes('keep-me'))).toBe(false);
      expect(report.removedCount).toBe(6);
    });

    it('leaves no snapclone snapshot, mapping, lock, journal or set, and keeps the snapshot that is not ours', async () => {
      const after = lvNames(await run.read('kill-after.lvs'));
      expect(after.filter((n) => n.includes('snapclone'))).toEqual([]);
      expect(after).toEqual(expect.arrayContaining(['vm-disks/keep-me', 'vm-disks/win-xp', 'vm-disks/other', 'small-vg/data']));
      expect(dmList(await run.read('kill-after.dm')).filter((n) => n.includes('snapclone'))).toEqual([]);
      expect(stateListing(await run.read('kill-after.state'))).toEqual([]);
      expect((await run.read('kill-after.sets')).trim()).toBe('');
    });
  });

  describe('a snapshot session', () => {
    it("clears a dead predecessor's leftovers at its start", () => {
      expect(s.session.snapshotsBefore).toContain(victim2.snapshot);
      const removed = s.session.recovery.actions.filter((a: Action) => a.outcome === 'removed').map((a: Action) => `${a.kind} ${a.target}`);
      expect(removed).toEqual(expect.arrayContaining([`snapshot ${victim2.snapshot}`, `temp-dir ${victim2.setDir}`, `journal ${victim2.journal}`]));
      expect(s.session.recovery.failedCount).toBe(0);
    });

    it("creates a snapshot whose name and tags say it is snapclone's and whose origin it is", () => {
      expect(s.session.snapshot.name).toMatch(/^snapclone-win-xp-\d{8}T\d{6}Z$/);
      expect(s.session.snapshot.tags).toEqual(['snapclone', 'snapclone-origin-vm--disks-win--xp']);
      expect(s.session.oracle.tags).toEqual(s.session.snapshot.tags);
      expect(s.session.oracle.origin).toBe('win-xp');
      expect(s.session.oracle.attr[0]).toBe('s');
      expect(s.session.oracle.sizeBytes).toBe(8 * MiB);
      expect(s.session.snapshot.sizeBytes).toBe(8 * MiB);
      expect(s.session.isBlockDevice).toBe(true);
    });

    it('journals the snapshot with its UUID before and after creating it, under a lock', () => {
      expect(s.session.journalOwnerPid).toBe(s.session.ownPid);
      expect(s.session.journalResources).toHaveLength(1);
      expect(s.session.journalResources[0].resource).toEqual({ type: 'snapshot', vg: 'vm-disks', name: s.session.snapshot.name, origin: 'win-xp' });
      expect(s.session.journalResources[0].state).toBe('created');
      expect(s.session.journalResources[0].uuid).toMatch(/^[A-Za-z0-9]{6}(-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}$/);
      expect(s.session.secondLock).toBe('SET_LOCKED');
      expect(s.session.secondSession).toBe('SET_LOCKED');
      expect(s.session.snapshotAsSource).toBe('LVM_SOURCE_IS_SNAPSHOT');
    });

    it('keeps the old data while the origin changes, and its fill rises as lvs reports', () => {
      expect(s.session.snapshotKeptOldData).toBe(true);
      expect(s.session.originChanged).toBe(true);
      expect(s.session.fillBefore).toBe(0);
      // 1 MiB of 8 MiB, plus the exception records.
      expect(s.session.fillAfterOneMiB).toBeGreaterThanOrEqual(12.5);
      expect(s.session.fillAfterOneMiB).toBeLessThan(14);
      expect(s.session.fillAfterOneMiB).toBe(s.session.oracleFillAfterOneMiB);
      const fills = s.session.fills as number[];
      expect(fills.length).toBeGreaterThan(2);
      for (let i = 1; i < fills.length; i++) expect(fills[i]).toBeGreaterThan(fills[i - 1]!);
    });

    it('the watcher aborts before the snapshot overflows', () => {
      expect(s.session.abortCode).toBe('LVM_SNAPSHOT_FILLING');
      expect(s.session.abortKind).toBe('refused');
      expect(s.session.stateAtAbort.invalid).toBe(false);
      expect(s.session.stateAtAbort.fillPercent).toBeGreaterThanOrEqual(80);
      expect(s.session.stateAtAbort.fillPercent).toBeLessThan(100);
      expect(s.session.oracleAtAbort.attr[4]).toBe('a');
      expect(s.session.peakPercent).toBeLessThan(100);
    });

    it('closing removes the snapshot, the journal and the lock; a second session of the same process leaves the first alone', () => {
      expect(s.session.closeCode).toBe('OK');
      expect(s.session.snapshotGoneAfterClose).toBe(true);
      expect(s.session.stateFilesAfterClose).toEqual({ locks: [], journal: [] });
      expect(s.lifecycle.existed).toBe(true);
      expect(s.lifecycle.secondRecovery).toEqual([]);
      expect(s.lifecycle.gone).toBe(true);
      expect(s.lifecycle.aborted).toBe(false);
      expect(s.lifecycle.peakFillPercent).toBeGreaterThan(0);
      expect(s.lifecycle.stateFiles).toEqual({ locks: [], journal: [] });
    });

    it('reports a snapshot that overflowed between two readings as invalid, and still removes it', () => {
      expect(s.overflow.state).toEqual({ exists: true, fillPercent: 100, invalid: true });
      expect(s.overflow.oracleAttr[4]).toBe('I');
      expect(s.overflow.closeCode).toBe('LVM_SNAPSHOT_INVALID');
      expect(s.overflow.closeKind).toBe('external');
      expect(s.overflow.gone).toBe(true);
      expect(s.overflow.stateFiles).toEqual({ locks: [], journal: [] });
    });

    it('refuses a VG without room before creating anything, with the numbers', () => {
      expect(s.noRoom.error.code).toBe('LVM_NO_SPACE');
      expect(s.noRoom.error.kind).toBe('refused');
      expect(s.noRoom.error.actual).toBe(`${s.noRoom.vgFree} bytes free`);
      expect(Number.parseInt(s.noRoom.error.expected, 10)).toBeGreaterThan(s.noRoom.vgFree);
      expect(s.noRoom.snapshotsAfterRefusal).toEqual([]);
      expect(s.noRoom.filesAfterRefusal).toEqual({ locks: [], journal: [] });
      expect(s.noRoom.smallSize).toBe(8 * MiB);
    });

    it('caps the size at a full copy exactly where lvcreate does', () => {
      const extent = 4 * MiB;
      expect(s.fullCopyCap.actualBytes).toBe(Math.ceil(fullCopySnapshotBytes(s.fullCopyCap.originBytes) / extent) * extent);
    });
  });

  it('resolves SOURCE in every spelling and tells what is not an LV', () => {
    expect(s.resolve.resolved).toHaveLength(4);
    for (const r of s.resolve.resolved) {
      expect({ vg: r.vg, lv: r.lv, path: r.path }).toEqual({ vg: 'vm-disks', lv: 'win-xp', path: '/dev/vm-disks/win-xp' });
      expect(r.sizeBytes).toBe(s.resolve.oracleSizeBytes);
    }
    expect(s.resolve.resolved[3].form).toMatch(/^\/dev\/dm-\d+$/);
    for (const k of ['loopDevice', 'missingLv', 'missingVg', 'realPartMapping', 'garbage', 'aFile']) expect(s.resolve[k], k).toBe('LVM_NOT_AN_LV');
  });

  it('finds partition maps stacked on a snapclone snapshot and removes them before the snapshot', () => {
    const expected = `${dmName('vm-disks', s.mappings.name)}1`;
    expect(s.mappings.found).toEqual([expected]);
    expect(s.mappings.dmBefore).toContain(expected);
    expect(s.mappings.listed).toContain(`vm-disks/${s.mappings.name}`);
    expect(s.mappings.mappingsRemoved).toEqual([expected]);
    expect(s.mappings.removed).toBe(true);
    expect(s.mappings.removedAgain).toBe(false);
    expect(s.mappings.dmAfter.filter((n: string) => n.includes('snapclone'))).toEqual([]);
    expect(s.mappings.gone).toBe(true);
    expect(s.mappings.notSnapclone).toBe('LVM_NOT_SNAPCLONE_SNAPSHOT');
  });

  it('creates and activates LVs, refusing existing names, missing VGs and VGs without room', () => {
    expect(s.createLv.sizeBytes).toBe(24 * MiB); // 20 MiB + 1 byte, rounded up to 4 MiB extents
    expect(s.createLv.oracleSizeBytes).toBe(24 * MiB);
    expect(s.createLv.active).toBe(true);
    expect(s.createLv.isBlockDevice).toBe(true);
    expect(s.createLv.inactiveAttr[4]).toBe('-');
    expect(s.createLv.reactivated).toBe(true);
    expect(s.createLv.exists).toBe('LVM_LV_EXISTS');
    expect(s.createLv.tooBig).toBe('LVM_NO_SPACE');
    expect(s.createLv.noVg).toBe('LVM_VG_NOT_FOUND');
    expect(s.createLv.badName).toBe('LVM_BAD_NAME');
    expect(s.inactiveOrigin).toMatchObject({ active: true, readable: true });
  });

  it('cleanup leaves a live run alone, and SIGTERM makes that run clean up after itself', async () => {
    expect((await run.read('cleanup-live.status')).trim()).toBe('0');
    const live = await json<Report>('cleanup-live.json');
    expect(live.liveRuns).toEqual([victim3.journal]);
    expect(live.actions).toContainEqual(expect.objectContaining({ kind: 'snapshot', target: victim3.snapshot, outcome: 'skipped' }));
    expect(lvNames(await run.read('live-during.lvs'))).toContain(victim3.snapshot);
    expect((await run.read('victim3.status')).trim()).toBe('130');
    expect(lvNames(await run.read('term-after.lvs')).filter((n) => n.includes('snapclone'))).toEqual([]);
    expect(stateListing(await run.read('term-after.state'))).toEqual([]);
    expect((await run.read('term-after.sets')).trim()).toBe('');
  });
});
