// The freeze around the snapshot, against a real agent on loopback whose freeze and thaw commands
// append to a log: the snapshot (here a step that appends to the same log) is taken only once the
// freeze is confirmed, and the guest is thawed right after, also when the snapshot fails; a freeze
// that fails stops the backup unless --allow-unquiesced; what happened is recorded for the manifest.
// The same order through `lvcreate -s` on real LVM is checked in test/e2e/backup.test.ts.

import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentClientEvent } from '../../src/agent/agent-client.js';
import { GuestFreeze } from '../../src/backup/guest-freeze.js';
import { startAgent, type AgentFixture } from '../agent/harness.js';

const fixtures: AgentFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

async function agent(...args: Parameters<typeof startAgent>): Promise<AgentFixture> {
  const f = await startAgent(...args);
  fixtures.push(f);
  return f;
}

/** A snapshot stand-in that writes to the agent's log, so the order of all three shows in one file. */
function snapshotStep(f: AgentFixture, calls: { n: number }, fail = false): () => Promise<string> {
  return async () => {
    calls.n++;
    await appendFile(join(f.dir, 'events.log'), 'snapshot\n');
    if (fail) throw Object.assign(new Error('lvcreate failed'), { code: 'LVM_COMMAND_FAILED' });
    return 'snap-1';
  };
}

describe('GuestFreeze', () => {
  it('orders freeze, snapshot, thaw, and records the freeze window', async () => {
    const f = await agent();
    const order: string[] = [];
    const calls = { n: 0 };
    const g = await GuestFreeze.connect({ address: f.address, identity: f.identity, allowUnquiesced: false, onEvent: (e: AgentClientEvent) => order.push(e.type) });
    const create = snapshotStep(f, calls);
    const result = await g.around(async () => {
      order.push('SNAPSHOT'); // where the snapshot ran among the client's events
      return create();
    });
    await g.close();
    expect(result).toBe('snap-1');
    expect(calls.n).toBe(1);
    expect(await f.events()).toEqual(['freeze client', 'snapshot', 'thaw client']);
    expect(order.slice(0, 7)).toEqual(['connected', 'authenticated', 'freeze-requested', 'frozen', 'SNAPSHOT', 'thaw-requested', 'thawed']);
    expect(g.quiesced).toBe(true);
    const r = g.record();
    expect(r.agent).toBe(f.address);
    expect(r.freezeOutput).toBe('flushed\n');
    expect(r.frozenMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(r.thawedAt!) - Date.parse(r.frozenAt!)).toBe(r.frozenMs);
    expect(r.freezeError).toBeUndefined();
  });

  it('thaws when the snapshot fails, and reports the snapshot error', async () => {
    const f = await agent();
    const calls = { n: 0 };
    const g = await GuestFreeze.connect({ address: f.address, identity: f.identity, allowUnquiesced: true });
    await expect(g.around(snapshotStep(f, calls, true))).rejects.toMatchObject({ code: 'LVM_COMMAND_FAILED' });
    await g.close();
    expect(await f.events()).toEqual(['freeze client', 'snapshot', 'thaw client']);
    expect(g.quiesced).toBe(false);
  });

  it('a failed freeze stops before the snapshot; --allow-unquiesced takes it crash-consistent instead', async () => {
    const f = await agent({ freezeShell: 'echo "cannot flush" >&2; exit 3' });
    const calls = { n: 0 };
    const strict = await GuestFreeze.connect({ address: f.address, identity: f.identity, allowUnquiesced: false });
    await expect(strict.around(snapshotStep(f, calls))).rejects.toMatchObject({ code: 'AGENT_FREEZE_FAILED', kind: 'external' });
    await strict.close();
    expect(calls.n).toBe(0);

    const lenient = await GuestFreeze.connect({ address: f.address, identity: f.identity, allowUnquiesced: true });
    expect(await lenient.around(snapshotStep(f, calls))).toBe('snap-1');
    await lenient.close();
    expect(calls.n).toBe(1);
    expect(lenient.quiesced).toBe(false);
    const r = lenient.record();
    expect(r.freezeError).toMatch(/^AGENT_FREEZE_FAILED/);
    expect(r.frozenAt).toBeUndefined();
  });

  it('an unreachable agent stops the backup before anything, unless --allow-unquiesced', async () => {
    const f = await agent();
    const address = f.address;
    await f.server.close(); // nobody listens there any more
    await expect(GuestFreeze.connect({ address, identity: f.identity, allowUnquiesced: false })).rejects.toMatchObject({ code: 'AGENT_UNREACHABLE' });
    const logs: string[] = [];
    const g = await GuestFreeze.connect({ address, identity: f.identity, allowUnquiesced: true, log: (m) => logs.push(m) });
    const calls = { n: 0 };
    expect(await g.around(snapshotStep(f, calls))).toBe('snap-1');
    expect(calls.n).toBe(1);
    expect(g.record().freezeError).toMatch(/^AGENT_UNREACHABLE/);
    expect(logs.join('\n')).toContain('crash-consistent');
  });

  it('a thaw that fails after a good snapshot is recorded, not fatal (the agent watchdog thaws)', async () => {
    const f = await agent({ thawShell: 'exit 4' });
    const g = await GuestFreeze.connect({ address: f.address, identity: f.identity, allowUnquiesced: false });
    expect(await g.around(snapshotStep(f, { n: 0 }))).toBe('snap-1');
    await g.close();
    expect(g.quiesced).toBe(true);
    expect(g.record().thawError).toMatch(/^AGENT_THAW_FAILED/);
  });
});
