// `snapclone cleanup` as a user runs it, on leftovers of a run really killed with SIGKILL. Snapshot
// removal on real LVM is covered in test/e2e/lvm.test.ts.

import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startStateChild } from '../helpers/state-child.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  await mkdir(join(dir, 'sets'));
});
afterEach(() => cleanup());

const exists = (path: string): Promise<boolean> => stat(path).then(
  () => true,
  () => false,
);

describe('snapclone cleanup', () => {
  it('reports and removes what a killed run left; --dry-run first changes nothing', async () => {
    const state = join(dir, 'state');
    const victim = await startStateChild([state, 'run', 'vg0', 'web', join(dir, 'sets')]);
    await victim.kill('SIGKILL');
    const setDir = victim.ready.setDir!;

    const dry = await runCli(['cleanup', '--state-dir', state, '--dry-run', '--json']);
    expect(dry.status, dry.stderr).toBe(0);
    const dryReport = JSON.parse(dry.stdout.toString()) as { dryRun: boolean; removedCount: number; actions: { outcome: string }[] };
    expect(dryReport.dryRun).toBe(true);
    expect(dryReport.removedCount).toBe(3);
    expect(dryReport.actions.every((a) => a.outcome === 'would-remove')).toBe(true);
    expect(dry.stderr.split('\n').filter((l) => /^cleanup: would remove (journal|lock|unfinished set) /.test(l))).toHaveLength(3);
    expect(dry.stderr).toContain('cleanup: would remove 3 leftovers');
    expect(await exists(setDir)).toBe(true);

    const real = await runCli(['cleanup', '--json'], { env: { SNAPCLONE_STATE_DIR: state } });
    expect(real.status, real.stderr).toBe(0);
    const report = JSON.parse(real.stdout.toString()) as { stateDir: string; removedCount: number; failedCount: number; actions: { kind: string; outcome: string; leftBy?: string }[] };
    expect(report.stateDir).toBe(state);
    expect(report.failedCount).toBe(0);
    expect(report.actions.map((a) => `${a.outcome} ${a.kind}`).sort()).toEqual(['removed journal', 'removed lock', 'removed temp-dir']);
    expect(report.actions[0]?.leftBy).toContain(`pid ${victim.ready.pid}`);
    expect(real.stderr).toContain(setDir);
    expect(await exists(setDir)).toBe(false);
    expect(await readdir(join(state, 'journal'))).toEqual([]);
    expect(await readdir(join(state, 'locks'))).toEqual([]);

    const again = await runCli(['cleanup', '--state-dir', state, '-q']);
    expect(again.status).toBe(0);
    expect(again.stderr).toBe('');
  });

  it('exits 6 with SET_CLEANUP_INCOMPLETE when something cannot be removed', async () => {
    const state = join(dir, 'state');
    await mkdir(join(state, 'journal'), { recursive: true });
    await writeFile(join(state, 'journal', 'damaged.jsonl'), '\u0000\u0000garbage\n');
    const r = await runCli(['cleanup', '--state-dir', state]);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/^snapclone: error SET_CLEANUP_INCOMPLETE: /m);
    expect(r.stderr).toContain('SET_JOURNAL_CORRUPT');
  });

  it('finds nothing in a state directory that does not exist', async () => {
    const r = await runCli(['cleanup', '--state-dir', join(dir, 'none'), '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ actions: [], removedCount: 0, failedCount: 0 });
  });
});
