// Trust on first use of the agents' host keys (STATE_DIR/known-agents), against real agents on
// loopback: the first backup records the agent's key, later ones require it, a changed key is
// refused with the file and the fix named, an agent without a host key is warned about.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/agent/keys.js';
import { GuestFreeze } from '../../src/backup/guest-freeze.js';
import { knownAgentsPath, readKnownAgents, rememberAgent } from '../../src/backup/known-agents.js';
import { startAgent, type AgentFixture } from '../agent/harness.js';
import { makeTempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function agent(...args: Parameters<typeof startAgent>): Promise<AgentFixture> {
  const f = await startAgent(...args);
  cleanups.push(() => f.close());
  return f;
}

async function stateDir(): Promise<string> {
  const { dir, cleanup } = await makeTempDir('snapclone-known-');
  cleanups.push(cleanup);
  return dir;
}

async function connect(f: AgentFixture, path: string, extra: { agentKey?: string; allowUnquiesced?: boolean } = {}): Promise<{ g: GuestFreeze; logs: string[] }> {
  const logs: string[] = [];
  const g = await GuestFreeze.connect({ address: f.address, identity: f.identity, allowUnquiesced: false, knownAgentsPath: path, log: (m) => logs.push(m), ...extra });
  cleanups.push(() => g.close());
  return { g, logs };
}

describe('known agents (trust on first use)', () => {
  it('records the first key, accepts it again, refuses another one with the file and the fix', async () => {
    const host = generateIdentity('agent-host');
    const f = await agent({ hostKey: host.identity });
    const path = knownAgentsPath(await stateDir());

    const first = await connect(f, path);
    expect(first.logs.join('\n')).toContain('recorded');
    expect((await readKnownAgents(path)).get(f.address)).toBe(host.identity.fingerprint);
    const before = await readFile(path, 'utf8');

    const second = await connect(f, path);
    expect(second.logs.join('\n')).not.toContain('recorded');
    expect(await readFile(path, 'utf8')).toBe(before);

    // The address now answers with another key (another machine, or a man in the middle).
    await rememberAgent(path, f.address, generateIdentity('other').identity.fingerprint);
    const refused = await connect(f, path).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'AGENT_HOST_KEY_MISMATCH', kind: 'auth', path, hint: expect.stringContaining(`delete the line for ${f.address}`) });
  });

  it('an explicit --agent-key wins over the recorded one and records nothing', async () => {
    const host = generateIdentity('agent-host');
    const f = await agent({ hostKey: host.identity });
    const path = knownAgentsPath(await stateDir());
    await rememberAgent(path, f.address, generateIdentity('stale').identity.fingerprint);
    const { logs } = await connect(f, path, { agentKey: host.identity.fingerprint });
    expect(logs.join('\n')).toContain('authenticated');
    expect((await readKnownAgents(path)).get(f.address)).not.toBe(host.identity.fingerprint);
  });

  it('an agent without a host key is warned about and not recorded', async () => {
    const f = await agent();
    const path = knownAgentsPath(await stateDir());
    const { logs } = await connect(f, path);
    expect(logs.join('\n')).toMatch(/no host key/);
    expect((await readKnownAgents(path)).size).toBe(0);
  });

  it('a damaged line is an error naming the file and its byte offset', async () => {
    const dir = await stateDir();
    const path = join(dir, 'known-agents');
    await writeFile(path, '# comment\n10.0.0.5:7410 SHA256:not-a-fingerprint\n');
    await expect(readKnownAgents(path)).rejects.toMatchObject({ code: 'STATE_KNOWN_AGENTS_BAD', path, byteOffset: 10 });
  });
});
