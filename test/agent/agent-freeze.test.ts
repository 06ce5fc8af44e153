// Freeze semantics over loopback: each command runs once per cycle, "already frozen" and "not frozen"
// run nothing, the watchdog thaws after --max-freeze, failures and timeouts are reported and undone,
// a dropped client is thawed at once when it asked for it, and withFrozenGuest always thaws.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, AgentRequestError, withFrozenGuest, type AgentClientEvent } from '../../src/agent/agent-client.js';
import { runShutdownHooks } from '../../src/io/shutdown.js';
import { startAgent, waitFor, type AgentFixture } from './harness.js';

const fixtures: AgentFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

async function agent(...args: Parameters<typeof startAgent>): Promise<AgentFixture> {
  const f = await startAgent(...args);
  fixtures.push(f);
  return f;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function errorOf(p: Promise<unknown>): Promise<AgentRequestError | { code: string }> {
  try {
    await p;
  } catch (e) {
    return e as AgentRequestError;
  }
  return { code: 'no error' };
}

describe('agent freeze and thaw', () => {
  it('runs each command once per cycle and reports what they did', async () => {
    const f = await agent({ maxFreezeSeconds: 30 });
    const c = await AgentClient.connect(f.address, f.identity);
    expect(c.agent.maxFreezeSeconds).toBe(30);
    const freeze = await c.freeze();
    expect(freeze.code).toBe('FROZEN');
    expect(freeze.state).toBe('frozen');
    expect(freeze.freezeCommand?.exitCode).toBe(0);
    expect(freeze.freezeCommand?.outputTail).toBe('flushed\n');
    const deadlineMs = Date.parse(freeze.deadline ?? '') - Date.parse(freeze.frozenAt ?? '');
    expect(deadlineMs).toBe(30_000);
    const status = await c.status();
    expect(status.state).toBe('frozen');
    expect(status.frozenBy).toBe(f.identity.fingerprint);
    const thaw = await c.thaw();
    expect(thaw.code).toBe('THAWED');
    expect(thaw.state).toBe('thawed');
    expect(thaw.thawCommand?.exitCode).toBe(0);
    await c.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });

  it('freeze while frozen runs nothing and keeps the deadline; thaw while thawed runs nothing', async () => {
    const f = await agent();
    const c = await AgentClient.connect(f.address, f.identity);
    const first = await c.freeze();
    const again = await errorOf(c.freeze());
    expect(again.code).toBe('AGENT_ALREADY_FROZEN');
    expect((again as AgentRequestError).reply.deadline).toBe(first.deadline);
    await c.thaw();
    const notFrozen = await c.thaw();
    expect(notFrozen.ok).toBe(true);
    expect(notFrozen.code).toBe('NOT_FROZEN');
    await c.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });

  it('the watchdog thaws a freeze that nobody thaws, after --max-freeze', async () => {
    const f = await agent({ maxFreezeSeconds: 0.6 });
    const c = await AgentClient.connect(f.address, f.identity);
    const t0 = performance.now();
    await c.freeze({ thawOnDisconnect: false });
    await c.close();
    await waitFor(async () => (await f.events()).length === 2, 5000);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(await f.events()).toEqual(['freeze client', 'thaw watchdog']);
    expect(f.logs.some((e) => e.event === 'watchdog')).toBe(true);
    const d = await AgentClient.connect(f.address, f.identity);
    const s = await d.status();
    expect(s.state).toBe('thawed');
    expect(s.lastThaw?.reason).toBe('watchdog');
    await d.close();
  });

  it('a client may ask for a shorter watchdog, never a longer one', async () => {
    const f = await agent({ maxFreezeSeconds: 0.5 });
    const c = await AgentClient.connect(f.address, f.identity);
    const r = await c.freeze({ thawOnDisconnect: false, maxFreezeSeconds: 3600 });
    expect(Date.parse(r.deadline ?? '') - Date.parse(r.frozenAt ?? '')).toBe(500);
    await c.thaw();
    const s = await c.freeze({ thawOnDisconnect: false, maxFreezeSeconds: 0.2 });
    expect(Date.parse(s.deadline ?? '') - Date.parse(s.frozenAt ?? '')).toBe(200);
    await c.close();
    await waitFor(async () => (await f.events()).length === 4);
    expect(await f.events()).toEqual(['freeze client', 'thaw client', 'freeze client', 'thaw watchdog']);
  });

  it('thaws at once when the client that froze with thawOnDisconnect goes away', async () => {
    const f = await agent({ maxFreezeSeconds: 30 });
    const c = await AgentClient.connect(f.address, f.identity);
    await c.freeze({ thawOnDisconnect: true });
    await c.close();
    await waitFor(async () => (await f.events()).length === 2, 3000);
    expect(await f.events()).toEqual(['freeze client', 'thaw disconnect']);
    expect(f.server.controller.state).toBe('thawed');
  });

  it('a failing freeze command is reported, undone by the thaw command, and leaves the guest thawed', async () => {
    const f = await agent({ freezeShell: `echo 'database refused to stop' >&2; exit 3` });
    const c = await AgentClient.connect(f.address, f.identity);
    const e = (await errorOf(c.freeze())) as AgentRequestError;
    expect(e.code).toBe('AGENT_FREEZE_FAILED');
    expect(e.kind).toBe('external');
    expect(e.reply.freezeCommand?.exitCode).toBe(3);
    expect(e.reply.freezeCommand?.outputTail).toContain('database refused to stop');
    expect(e.reply.thawCommand?.exitCode).toBe(0);
    expect(e.reply.state).toBe('thawed');
    await c.close();
    expect(await f.events()).toEqual(['thaw freeze-failed']);
  });

  it('a freeze command that hangs is killed at --freeze-timeout (with what it started)', async () => {
    const f = await agent({ freezeShell: 'sleep 30 & echo $! > "$SNAPCLONE_TEST_DIR/child.pid"; sleep 30', freezeTimeoutSeconds: 0.3 });
    const c = await AgentClient.connect(f.address, f.identity);
    const t0 = performance.now();
    const e = (await errorOf(c.freeze())) as AgentRequestError;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(e.code).toBe('AGENT_FREEZE_FAILED');
    expect(e.reply.freezeCommand?.timedOut).toBe(true);
    await c.close();
    expect(await f.events()).toEqual(['thaw freeze-failed']);
    const childPid = Number(await readFile(join(f.dir, 'child.pid'), 'utf8'));
    await waitFor(() => !isAlive(childPid), 4000);
  });

  it('a freeze command that leaves a lock holder in the background returns at once', async () => {
    // As qemu-ga's mysql hook does: a background client keeps the lock (and the inherited stdout).
    const f = await agent({ freezeShell: 'sleep 20 & echo locked' });
    const c = await AgentClient.connect(f.address, f.identity);
    const t0 = performance.now();
    const r = await c.freeze();
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r.freezeCommand?.outputTail).toBe('locked\n');
    await c.thaw();
    await c.close();
  });

  it('another session sees the freeze and may thaw it', async () => {
    const f = await agent();
    const a = await AgentClient.connect(f.address, f.identity);
    const b = await AgentClient.connect(f.address, f.identity);
    await a.freeze({ thawOnDisconnect: false });
    expect((await b.status()).state).toBe('frozen');
    expect((await errorOf(b.freeze())).code).toBe('AGENT_ALREADY_FROZEN');
    expect((await b.thaw()).code).toBe('THAWED');
    await a.close();
    await b.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });

  it('stopping the agent while frozen thaws first', async () => {
    const f = await startAgent();
    const c = await AgentClient.connect(f.address, f.identity);
    await c.freeze({ thawOnDisconnect: false });
    await f.server.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw shutdown']);
    await c.close().catch(() => undefined);
    await f.close();
  });
});

describe('withFrozenGuest', () => {
  it('runs the snapshot only after the freeze is confirmed, then thaws', async () => {
    const f = await agent();
    const order: string[] = [];
    const onEvent = (e: AgentClientEvent): void => {
      order.push(e.type);
    };
    const c = await AgentClient.connect(f.address, f.identity, { onEvent });
    const result = await withFrozenGuest(c, async (freeze) => {
      order.push(`snapshot while ${freeze.state}`);
      expect(await f.events()).toEqual(['freeze client']);
      return 42;
    });
    expect(result).toBe(42);
    await c.close();
    expect(order).toEqual(['connected', 'authenticated', 'freeze-requested', 'frozen', 'snapshot while frozen', 'thaw-requested', 'thawed', 'closed']);
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });

  it('thaws when the snapshot fails and rethrows its error', async () => {
    const f = await agent();
    const c = await AgentClient.connect(f.address, f.identity);
    const e = await errorOf(
      withFrozenGuest(c, async () => {
        throw Object.assign(new Error('lvcreate failed'), { code: 'LVM_COMMAND_FAILED' });
      }),
    );
    expect(e.code).toBe('LVM_COMMAND_FAILED');
    await c.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });

  it('does not run the snapshot when the freeze fails', async () => {
    const f = await agent({ freezeShell: 'exit 1' });
    const c = await AgentClient.connect(f.address, f.identity);
    let ran = false;
    const e = await errorOf(
      withFrozenGuest(c, async () => {
        ran = true;
      }),
    );
    expect(e.code).toBe('AGENT_FREEZE_FAILED');
    expect(ran).toBe(false);
    await c.close();
  });

  it('thaws from the shutdown hooks when a signal interrupts the snapshot', async () => {
    const f = await agent();
    const c = await AgentClient.connect(f.address, f.identity);
    let release: () => void = () => {};
    const running = withFrozenGuest(c, () => new Promise<void>((r) => (release = r)));
    await waitFor(async () => (await f.events()).length === 1);
    // What src/cli/main.ts does on SIGINT/SIGTERM:
    const hooks = await runShutdownHooks();
    expect(hooks.map((h) => h.error)).toEqual([undefined]);
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
    release();
    await running;
    await c.close();
    // Thawed once only: the normal path found the thaw already done.
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });
});
