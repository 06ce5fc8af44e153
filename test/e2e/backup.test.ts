// `snapclone backup`, `verify`, `restore --create-lv` and `cleanup` on real LVM, in one VM boot
// (test/e2e/vm/backup-job.sh): an LV holding the demo disk (MBR, primary and logical NTFS partitions),
// four backups with --keep 3 (the last with the guest frozen through a real agent), a restore onto a
// new LV in another VG, a too-small target, a backup killed with SIGKILL, a full destination and a
// snapshot about to overflow. The oracles are plain lvs, dmsetup, sfdisk, cmp and ntfsls/ntfscat
// outputs taken in the VM, and snapclone verify run again on the host.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, runCommand } from '../helpers/cli.js';
import { runInVm, SKIP_VM, vmFailure, type VmRun } from '../helpers/vm.js';
import { makeTempDir } from '../helpers/tmp.js';
import { DEMO_PARTITIONS, errorCode, unpackDemoDisk } from '../helpers/demo-disk.js';
import { partitionFileDigests } from '../helpers/ntfs-file-digests.mjs';

const MiB = 1024 * 1024;

interface BackupJson {
  set: string;
  name: string;
  consistency: string;
  quiesce: { agent: string; frozenAt?: string; thawedAt?: string; frozenMs?: number; freezeOutput?: string } | null;
  rotation: { deleted: string[]; kept: string[] };
  warnings: string[];
}

/** A leftovers file: "lvs:...", "dm:...", "dir:..." lines, as lists. */
function leftovers(text: string): { lvs: string[]; dm: string[]; dir: string[] } {
  const field = (name: string): string[] =>
    (new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1] ?? '')
      .split(' ')
      .filter((x) => x !== '');
  return { lvs: field('lvs'), dm: field('dm'), dir: field('dir') };
}

function sfdiskTable(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('device:'))
    .map((l) => l.replace(/^\S+?(\d+) :/, 'part$1 :'))
    .join('\n');
}

describe.skipIf(SKIP_VM)('backup and restore on real LVM (VM)', () => {
  let run: VmRun;
  const read = (name: string): Promise<string> => run.read(name);
  const json = async <T>(name: string): Promise<T> => JSON.parse(await read(name)) as T;
  const status = async (name: string): Promise<number> => Number((await read(`${name}.status`)).trim());

  beforeAll(async () => {
    run = await runInVm(`export REPO=${REPO_ROOT.replace(/\/$/, '')} OUT=$PWD\nexec bash "$REPO/test/e2e/vm/backup-job.sh"\n`, { timeoutSeconds: 900 });
    console.log(
      `backup VM job: boot ${run.timings?.bootSeconds} s, job ${run.timings?.jobSeconds} s, wall ${run.timings?.wallSeconds} s; ` +
        `steps: ${(await read('timings.txt').catch(() => '')).trim().replace(/\n/g, ', ')}`,
    );
  }, 1_100_000);
  afterAll(async () => {
    await run?.cleanup();
  });

  it('runs the whole job', () => {
    expect(run.status, vmFailure(run)).toBe(0);
  });

  it('four backups with --keep 3 leave exactly the three newest sets, and no snapshot or mapping', async () => {
    const reports: BackupJson[] = [];
    for (const i of [1, 2, 3, 4]) {
      expect(await status(`backup${i}`), await read(`backup${i}.err`)).toBe(0);
      reports.push(await json<BackupJson>(`backup${i}.json`));
    }
    const names = reports.map((r) => r.name);
    expect(new Set(names).size).toBe(4);
    for (const n of names) expect(n).toMatch(/^winxp-\d{8}T\d{6}Z$/);
    expect(reports.slice(0, 3).every((r) => r.rotation.deleted.length === 0)).toBe(true);
    expect(reports[3]!.rotation.deleted).toEqual([names[0]]);
    expect((await read('sets.after')).split('\n').filter((x) => x !== '').sort()).toEqual(names.slice(1).sort());
    const left = leftovers(await read('after-backups.leftovers'));
    expect(left.lvs).toEqual([]);
    expect(left.dm).toEqual([]);
    for (const r of reports.slice(0, 3)) expect(r.consistency).toBe('crash-consistent');
  });

  it('--agent froze the guest, took the snapshot, then thawed it: the set is quiesced', async () => {
    const r = await json<BackupJson>('backup4.json');
    expect(r.consistency).toBe('quiesced');
    expect(r.quiesce).toMatchObject({ agent: '127.0.0.1:7410' });
    expect(r.quiesce!.frozenMs).toBeGreaterThan(0);
    // The agent's hooks saw no snapshot when freezing and the backup's snapshot when thawing.
    const lines = (await read('agent-events.log')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('freeze snapshots=[]');
    expect(lines[1]).toMatch(/^thaw snapshots=\[snapclone-winxp-\d{8}T\d{6}Z \]$/);
  });

  it('verify passes in the VM and again on the host', async () => {
    expect(await status('verify'), await read('verify.err')).toBe(0);
    expect((await json<{ ok: boolean }>('verify.json')).ok).toBe(true);
    const newest = (await read('newest.txt')).trim();
    const again = await runCli(['verify', newest, '-q']);
    expect(again.status, again.stderr).toBe(0);
    const listed = await json<{ sets: { status: string; quiesced: boolean }[] }>('list.json');
    expect(listed.sets.map((s) => s.status)).toEqual(['complete', 'complete', 'complete']);
    expect(listed.sets[0]!.quiesced).toBe(true);
  });

  it('restore --create-lv makes an LV in another VG with the same table, boot code, boot area and files', async () => {
    expect(await status('restore'), await read('restore.err')).toBe(0);
    expect(Number((await read('restored.size')).trim())).toBe(48 * MiB);
    expect(sfdiskTable(await read('restored.sfdisk'))).toBe(sfdiskTable(await read('original.sfdisk')));
    const restored = join(run.workDir, 'restored.img');
    const { dir, cleanup } = await makeTempDir('snapclone-e2e-restored-');
    try {
      const disk = await unpackDemoDisk(join(dir, 'demo.img'));
      // The MBR (boot code included) and the boot area before partition 1, byte for byte; then the files.
      expect((await runCommand('cmp', ['-n', String(MiB), disk, restored])).status).toBe(0);
      for (const p of DEMO_PARTITIONS) {
        const files = partitionFileDigests(restored, p.startByte, p.sizeBytes);
        expect(Object.keys(files).length, `partition ${p.number}`).toBeGreaterThan(10);
        expect(files, `partition ${p.number}`).toEqual(partitionFileDigests(disk, p.startByte, p.sizeBytes));
      }
    } finally {
      await cleanup();
    }
  });

  it('refuses a target LV smaller than the set, writing nothing', async () => {
    expect(await status('small')).toBe(4);
    expect(errorCode(await read('small.err'))).toBe('SET_TARGET_TOO_SMALL');
    expect((await read('small.after')).trim()).toBe((await read('small.before')).trim());
  });

  it('a backup killed with SIGKILL while its snapshot exists: cleanup removes the snapshot and the unfinished set', async () => {
    const during = leftovers(await read('kill-during.leftovers'));
    expect(during.lvs).toHaveLength(1);
    expect(during.dir.filter((n) => n.startsWith('.winxp-'))).toHaveLength(1);
    const before = leftovers(await read('kill-before.leftovers'));
    expect(before.lvs).toEqual(during.lvs);
    const listed = await json<{ sets: { status: string; complete: boolean }[] }>('kill-list.json');
    expect(listed.sets.map((s) => [s.status, s.complete])).toEqual([['abandoned', false]]);
    expect(await status('cleanup'), await read('cleanup.err')).toBe(0);
    const report = await json<{ actions: { kind: string; target: string; outcome: string; foundBy: string }[]; failedCount: number }>('cleanup.json');
    expect(report.failedCount).toBe(0);
    expect(report.actions).toContainEqual(expect.objectContaining({ kind: 'snapshot', target: during.lvs[0], outcome: 'removed', foundBy: 'journal' }));
    expect(report.actions.filter((a) => a.kind === 'temp-dir' && a.outcome === 'removed')).toHaveLength(1);
    const after = leftovers(await read('kill-after.leftovers'));
    expect(after).toEqual({ lvs: [], dm: [], dir: [] });
    expect((await read('kill-after.state')).split('\n').filter((l) => l.trim() !== '' && !l.endsWith(':'))).toEqual([]);
  });

  it('a full destination fails the backup (IO_ENOSPC, exit 5) and removes its snapshot and its set', async () => {
    expect(await status('full')).toBe(5);
    expect(errorCode(await read('full.err'))).toBe('IO_ENOSPC');
    expect(leftovers(await read('full-after.leftovers'))).toEqual({ lvs: [], dm: [], dir: [] });
  });

  it('a snapshot about to overflow is reported and removed, and no set is left', async () => {
    const err = await read('overflow.err');
    expect(errorCode(err), err).toBe('LVM_SNAPSHOT_FILLING');
    expect(await status('overflow')).toBe(4);
    expect(err).toMatch(/about to overflow/);
    expect(leftovers(await read('overflow-after.leftovers'))).toEqual({ lvs: [], dm: [], dir: [] });
  });
});
