// Recovery of what killed runs left, on this host: runs are real processes killed with SIGKILL; LVM is
// the real lvm2 (whose VGs do not exist here, so snapshots listed in journals are "already gone").
// The same recovery against real snapshots runs in the VM (test/e2e/lvm.test.ts).

import { appendFile, mkdir, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recoverLeftovers, type LeftoverAction } from '../../src/backup/recover-leftovers.js';
import { serializeEntry } from '../../src/backup/journal-format.js';
import { ensureStateDir, journalsDir, locksDir } from '../../src/backup/state-dir.js';
import { ResourceJournal } from '../../src/backup/resource-journal.js';
import { Lvm } from '../../src/lvm/lvm.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startStateChild, type StateChild } from '../helpers/state-child.js';

let dir: string;
let sets: string;
let cleanup: () => Promise<void>;
const children: StateChild[] = [];
const lvm = new Lvm();

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  sets = join(dir, 'sets');
  await mkdir(sets);
  await ensureStateDir(join(dir, 'state'));
});
afterEach(async () => {
  for (const c of children.splice(0)) await c.kill();
  await cleanup();
});

const exists = (path: string): Promise<boolean> => stat(path).then(
  () => true,
  () => false,
);
const summary = (actions: LeftoverAction[]): string[] => actions.map((a) => `${a.outcome} ${a.kind} ${a.target}`).sort();

describe('recoverLeftovers', () => {
  it('removes the set, journal and lock of a run killed with SIGKILL, after a dry run that changes nothing', async () => {
    const state = join(dir, 'state');
    const victim = await startStateChild([state, 'run', 'vg0', 'web', sets]);
    await victim.kill('SIGKILL');
    const { journal, lock, setDir } = victim.ready as Required<typeof victim.ready>;
    expect(await exists(setDir)).toBe(true);

    const lines: string[] = [];
    const dry = await recoverLeftovers(state, { lvm, dryRun: true, log: (l) => lines.push(l) });
    expect(summary(dry.actions)).toEqual([`would-remove journal ${journal}`, `would-remove lock ${lock}`, `would-remove temp-dir ${setDir}`].sort());
    expect(dry.removedCount).toBe(3);
    expect(lines).toHaveLength(3);
    expect(await exists(setDir)).toBe(true);
    expect(await exists(journal)).toBe(true);
    expect(await exists(lock)).toBe(true);

    const report = await recoverLeftovers(state, { lvm });
    expect(summary(report.actions)).toEqual([`removed journal ${journal}`, `removed lock ${lock}`, `removed temp-dir ${setDir}`].sort());
    expect(report.actions.every((a) => a.outcome !== 'removed' || a.leftBy?.includes(`pid ${victim.ready.pid}`))).toBe(true);
    expect(report.failedCount).toBe(0);
    expect(await exists(setDir)).toBe(false);
    expect(await readdir(journalsDir(state))).toEqual([]);
    expect(await readdir(locksDir(state))).toEqual([]);
    expect((await recoverLeftovers(state, { lvm })).actions).toEqual([]);
  });

  it('leaves a live run alone', async () => {
    const state = join(dir, 'state');
    const live = await startStateChild([state, 'run', 'vg0', 'web', sets]);
    children.push(live);
    const report = await recoverLeftovers(state, { lvm });
    expect(report.actions).toEqual([]);
    expect(report.liveRuns).toEqual([live.ready.journal]);
    expect(await exists(live.ready.setDir!)).toBe(true);
    expect(await exists(live.ready.lock!)).toBe(true);
  });

  it("leaves this process's own runs alone (a backup of several LVs sweeps once per LV)", async () => {
    const state = join(dir, 'state');
    const own = await ResourceJournal.begin(state, 'backup', 'vg0/web');
    const setDir = join(sets, `.own.snapclone-${process.pid}-abc.tmp`);
    await own.intend({ type: 'temp-dir', path: setDir });
    await mkdir(setDir);
    const report = await recoverLeftovers(state, { lvm });
    expect(report.actions).toEqual([]);
    expect(report.liveRuns).toEqual([]);
    expect(await exists(setDir)).toBe(true);
    expect(await own.finish()).toBe('kept');
  });

  it('marks a snapshot the dead run intended but LVM does not have as already gone, and finishes the journal', async () => {
    const state = join(dir, 'state');
    const victim = await startStateChild([state, 'run', 'vg0', 'web', sets]);
    await victim.kill('SIGKILL');
    const journal = victim.ready.journal!;
    // Killed between the intent line and lvcreate, with half of the next line written.
    const snapshot = { type: 'snapshot', vg: 'snapclone-test-no-such-vg', name: 'snapclone-web-20261126T103555Z', origin: 'web' } as const;
    await appendFile(journal, `${serializeEntry({ op: 'intent', id: 2, resource: snapshot, time: new Date().toISOString() })}{"op":"cre`);
    const report = await recoverLeftovers(state, { lvm });
    expect(summary(report.actions)).toContain(`already-gone snapshot ${snapshot.vg}/${snapshot.name}`);
    expect(summary(report.actions)).toContain(`removed journal ${journal}`);
    expect(report.failedCount).toBe(0);
  });

  it('reports a journal it cannot read as failed and leaves it', async () => {
    const state = join(dir, 'state');
    const bad = join(journalsDir(state), 'broken.jsonl');
    await writeFile(bad, 'not a journal\n');
    const report = await recoverLeftovers(state, { lvm });
    expect(report.failedCount).toBe(1);
    expect(report.actions[0]).toMatchObject({ kind: 'journal', target: bad, outcome: 'failed', code: 'SET_JOURNAL_CORRUPT' });
    expect(await exists(bad)).toBe(true);
  });

  it('refuses to read a journal larger than any journal can be', async () => {
    const state = join(dir, 'state');
    const huge = join(journalsDir(state), 'huge.jsonl');
    await writeFile(huge, '');
    await truncate(huge, 1 << 30); // sparse
    const report = await recoverLeftovers(state, { lvm });
    expect(report.actions).toEqual([expect.objectContaining({ kind: 'journal', target: huge, outcome: 'failed', code: 'SET_STATE_FILE_TOO_LARGE' })]);
  });

  it('removes half-made lock files of dead processes, not of live ones', async () => {
    const state = join(dir, 'state');
    const victim = await startStateChild([state, 'lock', 'vg0', 'db']);
    await victim.kill('SIGKILL');
    const deadDebris = join(locksDir(state), `vg0-web.lock.${victim.ready.pid}-0badf00d.tmp`);
    const liveDebris = join(locksDir(state), `vg0-web.lock.${process.pid}-0badf00d.tmp`);
    await writeFile(deadDebris, '{}');
    await writeFile(liveDebris, '{}');
    const report = await recoverLeftovers(state, { lvm });
    expect(summary(report.actions)).toEqual([`removed lock ${deadDebris}`, `removed lock ${victim.ready.lock}`].sort());
    expect(await exists(liveDebris)).toBe(true);
  });

  it('works on a state directory that does not exist', async () => {
    const report = await recoverLeftovers(join(dir, 'nowhere'), { lvm });
    expect(report).toEqual({ actions: [], removedCount: 0, failedCount: 0, liveRuns: [] });
  });
});
