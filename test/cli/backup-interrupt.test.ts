// A backup interrupted while it writes its set: SIGINT (and SIGTERM) make it clean up before it
// exits 130; SIGKILL leaves a hidden temporary that `list` calls abandoned, and that `snapclone
// cleanup`, or the next backup's start-of-run sweep, removes and reports. Never a complete-looking set.

import { spawn } from 'node:child_process';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { fixtureVolume } from '../helpers/ntfs-fixtures.js';
import { entries } from '../helpers/demo-disk.js';

interface Running {
  pid: number;
  /** Resolves with the exit status (or the signal's name) and stderr. */
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `snapclone backup` in the background. */
function startBackup(args: string[]): Running {
  const child = spawn(process.execPath, [CLI_PATH, 'backup', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal, stderr })),
  );
  return { pid: child.pid!, exited, kill: (s) => child.kill(s) };
}

/** Waits until the backup's temporary set holds an image with data in it; returns the temporary's path. */
async function untilWriting(dest: string, run: Running): Promise<string> {
  const deadline = Date.now() + 60_000;
  let done = false;
  void run.exited.then(() => (done = true));
  while (Date.now() < deadline && !done) {
    for (const name of await readdir(dest).catch(() => [] as string[])) {
      if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
      const files = await readdir(join(dest, name)).catch(() => [] as string[]);
      for (const f of files.filter((x) => x.endsWith('.bz2'))) {
        if ((await stat(join(dest, name, f)).catch(() => undefined))?.size) return join(dest, name);
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the backup never started writing an image (exited: ${done}): ${(await run.exited.catch(() => undefined))?.stderr ?? ''}`);
}

describe('an interrupted backup', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let volume = '';
  let state = '';
  // A 48 MiB volume saved raw at -9 on one thread: seconds of work, time to interrupt it.
  const slowArgs = (dest: string): string[] => [volume, '--dest', dest, '--state-dir', state, '--raw', '0', '--level', '9', '--threads', '1', '--name', 'slow'];
  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-interrupt-'));
    volume = await fixtureVolume('c4k-many');
    state = join(dir, 'state');
  });
  afterAll(async () => cleanup());

  it.each(['SIGINT', 'SIGTERM'] as const)('%s: cleans up, exits 130, leaves no set, no temporary, no journal', async (signal) => {
    const dest = join(dir, `dest-${signal}`);
    const run = startBackup(slowArgs(dest));
    const temporary = await untilWriting(dest, run);
    run.kill(signal);
    const { status, stderr } = await run.exited;
    expect(status, stderr).toBe(130);
    expect(stderr).toContain(`${signal} received, cleaning up`);
    expect(stderr).toContain(`cleaned up: unfinished set ${temporary}`);
    expect(await entries(dest)).toEqual([]);
    expect(await entries(join(state, 'journal'))).toEqual([]);
  });

  it('SIGKILL: the temporary is listed abandoned; `snapclone cleanup` removes and reports it', async () => {
    const dest = join(dir, 'dest-kill');
    const run = startBackup(slowArgs(dest));
    const temporary = await untilWriting(dest, run);
    run.kill('SIGKILL');
    expect((await run.exited).signal).toBe('SIGKILL');
    expect(await entries(dest)).toEqual([temporary.split('/').pop()]);
    const listed = JSON.parse((await runCli(['list', dest, '--json'])).stdout.toString()) as { sets: { status: string; complete: boolean; pid: number }[] };
    expect(listed.sets).toEqual([expect.objectContaining({ status: 'abandoned', complete: false, pid: run.pid })]);
    expect(await runCli(['verify', temporary, '-q'])).toMatchObject({ status: 3 });

    const c = await runCli(['cleanup', '--state-dir', state, '--json']);
    expect(c.status, c.stderr).toBe(0);
    const report = JSON.parse(c.stdout.toString()) as { actions: { kind: string; target: string; outcome: string; leftBy?: string }[] };
    expect(report.actions).toContainEqual(expect.objectContaining({ kind: 'temp-dir', target: temporary, outcome: 'removed' }));
    expect(report.actions.find((a) => a.kind === 'temp-dir')?.leftBy).toContain(`pid ${run.pid}`);
    expect(c.stderr).toContain(`removed unfinished set ${temporary}`);
    expect(await entries(dest)).toEqual([]);
    expect(await entries(join(state, 'journal'))).toEqual([]);
  });

  it('SIGKILL with the state directory lost: `cleanup --dest` still finds the dead run\'s set by its owner file', async () => {
    const dest = join(dir, 'dest-lost-state');
    const lostState = join(dir, 'lost-state');
    const run = startBackup([volume, '--dest', dest, '--state-dir', lostState, '--raw', '0', '--level', '9', '--threads', '1', '--name', 'slow']);
    const temporary = await untilWriting(dest, run);
    run.kill('SIGKILL');
    await run.exited;
    await rm(lostState, { recursive: true, force: true });
    const plain = await runCli(['cleanup', '--state-dir', lostState, '--json']);
    expect((JSON.parse(plain.stdout.toString()) as { removedCount: number }).removedCount).toBe(0);
    expect(await entries(dest)).toEqual([temporary.split('/').pop()]);
    const c = await runCli(['cleanup', '--state-dir', lostState, '--dest', dest, '--json']);
    expect(c.status, c.stderr).toBe(0);
    const report = JSON.parse(c.stdout.toString()) as { removedCount: number; actions: { kind: string; target: string; outcome: string; foundBy: string }[] };
    expect(report.actions).toEqual([expect.objectContaining({ kind: 'temp-dir', target: temporary, outcome: 'removed', foundBy: 'dest-scan' })]);
    expect(report.removedCount).toBe(1);
    expect(await entries(dest)).toEqual([]);
  });

  it("SIGKILL, then the next backup: its start-of-run sweep removes the dead run's temporary and reports it", async () => {
    const dest = join(dir, 'dest-next');
    const run = startBackup(slowArgs(dest));
    const temporary = await untilWriting(dest, run);
    run.kill('SIGKILL');
    await run.exited;
    const next = await runCli(['backup', volume, '--dest', dest, '--state-dir', state, '--level', '1', '--name', 'slow', '--json']);
    expect(next.status, next.stderr).toBe(0);
    expect(next.stderr).toContain(`cleanup: removed unfinished set ${temporary}`);
    const name = (JSON.parse(next.stdout.toString()) as { name: string }).name;
    expect(await entries(dest)).toEqual([name]);
  });
});
