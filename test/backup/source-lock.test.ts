// The per-source lock, with real other processes holding it and really dying.

import { spawn, spawnSync } from 'node:child_process';
import { chmod, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireSourceLock, lockPath, parseLockRecord } from '../../src/backup/source-lock.js';
import { currentOwner, ownerLiveness, processStartTicks } from '../../src/backup/process-owner.js';
import { ensureStateDir } from '../../src/backup/state-dir.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startStateChild, type StateChild } from '../helpers/state-child.js';

let dir: string;
let cleanup: () => Promise<void>;
const children: StateChild[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  await ensureStateDir(dir);
});
afterEach(async () => {
  for (const c of children.splice(0)) await c.kill();
  await cleanup();
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; kind: string; message: string; path?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; kind: string; message: string; path?: string };
  }
  throw new Error('expected a refusal');
}

describe('process owners', () => {
  it('reads the start time of a process from /proc as the kernel reports it, even with ") " in its name', async () => {
    const self = spawnSync('sh', ['-c', 'cut -d" " -f22 /proc/$$/stat; echo $$'], { encoding: 'utf8' });
    expect(self.status).toBe(0);
    // A command name with a space and a parenthesis: the field count is only right after the last ')'.
    const { dir: binDir, cleanup: rmBin } = await makeTempDir();
    try {
      const odd = join(binDir, 'a) b');
      await symlink('/bin/sleep', odd);
      await chmod(binDir, 0o755);
      const child = spawn(odd, ['5'], { stdio: 'ignore' });
      const normal = spawn('sleep', ['5'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 100));
      const oddTicks = await processStartTicks(child.pid!);
      const normalTicks = await processStartTicks(normal.pid!);
      const oracle = Number(spawnSync('cut', ['-d', ' ', '-f22', `/proc/${normal.pid}/stat`], { encoding: 'utf8' }).stdout.trim());
      child.kill();
      normal.kill();
      expect(normalTicks).toBe(oracle);
      expect(Math.abs(oddTicks! - normalTicks!)).toBeLessThan(100); // both started within a second
    } finally {
      await rmBin();
    }
  });

  it('tells live, dead, reused and remote owners apart', async () => {
    const self = await currentOwner();
    expect(await ownerLiveness(self)).toBe('alive');
    const gone = spawnSync('true');
    expect(await ownerLiveness({ pid: gone.pid!, hostname: hostname() })).toBe('dead');
    expect(await ownerLiveness({ ...self, startTicks: (self.startTicks ?? 0) + 1 })).toBe('dead'); // pid reused
    expect(await ownerLiveness({ ...self, hostname: `${hostname()}-elsewhere` })).toBe('other-host');
  });
});

describe('acquireSourceLock', () => {
  it('writes the owner into the lock and removes it on release', async () => {
    const lock = await acquireSourceLock(dir, 'vm-disks', 'win-xp', 'backup');
    expect(lock.path).toBe(lockPath(dir, 'vm-disks', 'win-xp'));
    expect(lock.path.endsWith('/locks/vm--disks-win--xp.lock')).toBe(true);
    const record = parseLockRecord(await readFile(lock.path, 'utf8'));
    expect(record).toMatchObject({ source: 'vm-disks/win-xp', command: 'backup', owner: { pid: process.pid, hostname: hostname() } });
    await lock.release();
    await expect(readFile(lock.path)).rejects.toMatchObject({ code: 'ENOENT' });
    await (await acquireSourceLock(dir, 'vm-disks', 'win-xp', 'backup')).release();
  });

  it('refuses a second backup of the same LV with SET_LOCKED naming the owner pid; other LVs are free', async () => {
    const holder = await startStateChild([dir, 'lock', 'vg0', 'web']);
    children.push(holder);
    const e = await refusal(acquireSourceLock(dir, 'vg0', 'web', 'backup'));
    expect(e.code).toBe('SET_LOCKED');
    expect(e.kind).toBe('refused');
    expect(e.message).toContain(`pid ${holder.ready.pid}`);
    expect(e.path).toBe(lockPath(dir, 'vg0', 'web'));
    await (await acquireSourceLock(dir, 'vg0', 'db', 'backup')).release();
    const own = await acquireSourceLock(dir, 'vg0', 'other', 'backup');
    expect((await refusal(acquireSourceLock(dir, 'vg0', 'other', 'backup'))).code).toBe('SET_LOCKED');
    await own.release();
  });

  it('takes over the lock of a process killed with SIGKILL', async () => {
    const holder = await startStateChild([dir, 'lock', 'vg0', 'web']);
    await holder.kill('SIGKILL');
    const lock = await acquireSourceLock(dir, 'vg0', 'web', 'backup');
    expect(parseLockRecord(await readFile(lock.path, 'utf8'))?.owner.pid).toBe(process.pid);
    await lock.release();
  });

  it('lets exactly one of several processes racing for a stale lock win', async () => {
    const dead = await startStateChild([dir, 'lock', 'vg0', 'web']);
    await dead.kill('SIGKILL');
    const racers = await Promise.all(Array.from({ length: 5 }, () => startStateChild([dir, 'lock', 'vg0', 'web'])));
    children.push(...racers);
    const winners = racers.filter((r) => r.ready.error === undefined);
    expect(winners).toHaveLength(1);
    expect(racers.filter((r) => r.ready.error === 'SET_LOCKED')).toHaveLength(4);
    const record = parseLockRecord(await readFile(lockPath(dir, 'vg0', 'web'), 'utf8'));
    expect(record?.owner.pid).toBe(winners[0]!.ready.pid);
  });

  it('refuses a lock held on another host, and a lock file that is not a lock record', async () => {
    const path = lockPath(dir, 'vg0', 'web');
    const remote = { owner: { pid: 1, hostname: `${hostname()}-elsewhere` }, source: 'vg0/web', command: 'backup', since: new Date().toISOString() };
    await writeFile(path, JSON.stringify(remote));
    const e = await refusal(acquireSourceLock(dir, 'vg0', 'web', 'backup'));
    expect(e.code).toBe('SET_LOCKED');
    expect(e.message).toContain('elsewhere');
    await writeFile(path, 'garbage');
    expect((await refusal(acquireSourceLock(dir, 'vg0', 'web', 'backup'))).code).toBe('SET_LOCK_UNREADABLE');
    await truncate(path, 1 << 30); // sparse: refused by its size, never read into memory
    expect((await refusal(acquireSourceLock(dir, 'vg0', 'web', 'backup'))).code).toBe('SET_LOCK_UNREADABLE');
  });

  it('release leaves alone a lock that is no longer its own', async () => {
    const lock = await acquireSourceLock(dir, 'vg0', 'web', 'backup');
    const replaced = JSON.stringify({ ...lock.record, since: 'later' });
    await writeFile(lock.path, replaced);
    await lock.release();
    expect(await readFile(lock.path, 'utf8')).toBe(replaced);
  });
});
