// The agent's guarantees against other parties, over real loopback TCP: wrong keys, addresses outside
// --allow, replayed sessions, a man in the middle altering or injecting frames, host key pinning.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/agent/agent-client.js';
import { generateIdentity, parseAuthorizedKeys } from '../../src/agent/keys.js';
import { MSG_SEALED } from '../../src/agent/handshake.js';
import { FrameProxy, frameOf, newIdentity, rawExchange, startAgent, waitFor, type AgentFixture } from './harness.js';

const fixtures: AgentFixture[] = [];
const proxies: FrameProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  for (const f of fixtures.splice(0)) await f.close();
});

async function agent(...args: Parameters<typeof startAgent>): Promise<AgentFixture> {
  const f = await startAgent(...args);
  fixtures.push(f);
  return f;
}

async function proxy(f: AgentFixture, hooks: ConstructorParameters<typeof FrameProxy>[1] = {}): Promise<{ p: FrameProxy; address: string }> {
  const p = new FrameProxy(f.server.address, hooks);
  proxies.push(p);
  return { p, address: await p.start() };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'no error';
}

describe('agent authentication', () => {
  it('serves the authorized key', async () => {
    const f = await agent();
    const c = await AgentClient.connect(f.address, f.identity);
    expect((await c.status()).state).toBe('thawed');
    await c.close();
    expect(f.logs.some((e) => e.event === 'authenticated' && e.key === f.identity.fingerprint)).toBe(true);
  });

  it('refuses a key that is not authorized, and runs nothing', async () => {
    const f = await agent();
    const stranger = newIdentity('stranger').identity;
    expect(await codeOf(AgentClient.connect(f.address, stranger))).toBe('AGENT_REFUSED');
    expect(await f.events()).toEqual([]);
    const refusal = f.logs.find((e) => e.event === 'auth-failed');
    expect(refusal?.reason).toBe('unknown-key');
    expect(refusal?.key).toBe(stranger.fingerprint);
  });

  it('refuses a client presenting an authorized public key without its private key', async () => {
    const f = await agent();
    // Claims the authorized public key but signs with another private key.
    const impostor = { ...newIdentity('impostor').identity, publicKey: f.identity.publicKey, fingerprint: f.identity.fingerprint };
    expect(await codeOf(AgentClient.connect(f.address, impostor))).toBe('AGENT_REFUSED');
    expect(f.logs.find((e) => e.event === 'auth-failed')?.reason).toBe('bad-signature');
    expect(await f.events()).toEqual([]);
  });

  it('accepts any of several authorized keys (authorized_keys style file)', async () => {
    const a = generateIdentity('first');
    const b = generateIdentity('second');
    const f = await agent({ authorizedKeys: parseAuthorizedKeys(`# hypervisors\n\n${a.publicLine}${b.publicLine}`) });
    for (const id of [a.identity, b.identity]) {
      const c = await AgentClient.connect(f.address, id);
      await c.close();
    }
    expect(await codeOf(AgentClient.connect(f.address, f.identity))).toBe('AGENT_REFUSED');
  });
});

describe('agent address allowlist', () => {
  it('closes a connection from 127.0.0.2 with --allow 127.0.0.1 before reading it, and runs nothing', async () => {
    const f = await agent({ allowList: ['127.0.0.1'] });
    expect(await codeOf(AgentClient.connect(f.address, f.identity, { localAddress: '127.0.0.2' }))).toBe('AGENT_REFUSED');
    expect(await f.events()).toEqual([]);
    const refused = f.logs.filter((e) => e.event === 'refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.remote).toMatch(/^127\.0\.0\.2:\d+$/);
    // Nothing was read from it: no handshake stage was logged for that peer.
    expect(f.logs.some((e) => e.event !== 'refused' && typeof e.remote === 'string' && e.remote.startsWith('127.0.0.2:'))).toBe(false);
    // The allowed address still works.
    const c = await AgentClient.connect(f.address, f.identity, { localAddress: '127.0.0.1' });
    await c.freeze();
    await c.thaw();
    await c.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });

  it('matches CIDR blocks', async () => {
    const f = await agent({ allowList: ['127.0.0.0/30', '2001:db8::/32'] });
    for (const [source, ok] of [
      ['127.0.0.2', true],
      ['127.0.0.3', true],
      ['127.0.0.4', false],
      ['127.0.1.1', false],
    ] as const) {
      const p = AgentClient.connect(f.address, f.identity, { localAddress: source }).then((c) => c.close());
      expect(await codeOf(p), source).toBe(ok ? 'no error' : 'AGENT_REFUSED');
    }
  });

  it('listens on IPv6 and filters IPv6 and IPv4-mapped clients', async () => {
    const f = await agent({ listen: { host: '::', port: 0 }, allowList: ['::1/128'] });
    const port = f.server.address.port;
    const c = await AgentClient.connect(`[::1]:${port}`, f.identity);
    expect((await c.status()).ok).toBe(true);
    await c.close();
    // 127.0.0.1 reaches the dual-stack socket as ::ffff:127.0.0.1 and is not in the list.
    expect(await codeOf(AgentClient.connect(`127.0.0.1:${port}`, f.identity))).toBe('AGENT_REFUSED');
    const g = await agent({ listen: { host: '::', port: 0 }, allowList: ['127.0.0.1'] });
    const d = await AgentClient.connect(`127.0.0.1:${g.server.address.port}`, g.identity);
    await d.close();
    expect(await codeOf(AgentClient.connect(`[::1]:${g.server.address.port}`, g.identity))).toBe('AGENT_REFUSED');
  });
});

describe('agent against replay and a man in the middle', () => {
  it('refuses a replay of a recorded session, and runs nothing again', async () => {
    const f = await agent();
    const { p, address } = await proxy(f);
    const c = await AgentClient.connect(address, f.identity);
    await c.freeze({ thawOnDisconnect: false });
    await c.thaw();
    await c.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
    const recorded = Buffer.concat(p.clientBytes);
    expect(p.clientFrames.length).toBe(4); // HELLO, AUTH, freeze, thaw

    const r = await rawExchange(f.server.address.port, recorded);
    expect(r.closedByPeer).toBe(true);
    await waitFor(() => f.logs.some((e) => e.event === 'auth-failed'));
    expect(f.logs.find((e) => e.event === 'auth-failed')?.reason).toBe('bad-signature');
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
  });

  it('refuses a replayed command inside a live session (duplicated freeze frame)', async () => {
    const f = await agent();
    const { address } = await proxy(f, {
      // frames: 0 HELLO, 1 AUTH, 2 freeze request -> forwarded twice
      fromClient: (frame, i) => (i === 2 ? [frame, frame] : [frame]),
    });
    const c = await AgentClient.connect(address, f.identity);
    await c.freeze({ thawOnDisconnect: false });
    await waitFor(() => f.logs.some((e) => e.event === 'integrity-failure'));
    expect(f.logs.find((e) => e.event === 'integrity-failure')?.code).toBe('AGENT_REPLAY');
    expect(await f.events()).toEqual(['freeze client']);
    await c.close();
  });

  it('detects an altered command: the freeze does not run', async () => {
    const f = await agent();
    const { address } = await proxy(f, {
      fromClient: (frame, i) => {
        if (i !== 2) return [frame];
        const altered = Buffer.from(frame);
        altered[altered.length - 20]! ^= 0x01; // a bit of the ciphertext
        return [altered];
      },
    });
    const c = await AgentClient.connect(address, f.identity);
    expect(await codeOf(c.freeze())).toBe('AGENT_CONNECTION_LOST');
    expect(f.logs.find((e) => e.event === 'integrity-failure')?.code).toBe('AGENT_INTEGRITY');
    expect(await f.events()).toEqual([]);
    expect(f.server.controller.state).toBe('thawed');
  });

  it('detects an injected thaw: a forged sealed frame thaws nothing', async () => {
    const f = await agent();
    const { address } = await proxy(f, {
      fromClient: (frame, i) => {
        if (i === 2) {
          // After the freeze request, the man in the middle sends its own "thaw" (seq 1, random body).
          const forged = Buffer.concat([Buffer.from([MSG_SEALED, 0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from('{"op":"thaw"}'), randomBytes(16)]);
          return [frame, frameOf(forged)];
        }
        return [frame];
      },
    });
    const c = await AgentClient.connect(address, f.identity);
    await c.freeze({ thawOnDisconnect: false });
    await waitFor(() => f.logs.some((e) => e.event === 'integrity-failure'));
    expect(f.logs.find((e) => e.event === 'integrity-failure')?.code).toBe('AGENT_INTEGRITY');
    expect(f.server.controller.state).toBe('frozen');
    expect(await f.events()).toEqual(['freeze client']);
    await c.close();
  });

  it('detects an altered handshake (client ephemeral key) and an altered reply', async () => {
    const f = await agent();
    const { address } = await proxy(f, {
      fromClient: (frame, i) => {
        if (i !== 0) return [frame];
        const altered = Buffer.from(frame);
        altered[4 + 50]! ^= 0x40; // inside HELLO's ephemeral key
        return [altered];
      },
    });
    expect(await codeOf(AgentClient.connect(address, f.identity))).toBe('AGENT_REFUSED');
    expect(f.logs.find((e) => e.event === 'auth-failed')?.reason).toBe('bad-signature');

    const g = await agent();
    const { address: address2 } = await proxy(g, {
      fromAgent: (frame, i) => {
        // 0 CHALLENGE, 1 welcome, 2 reply to status
        if (i !== 2) return [frame];
        const altered = Buffer.from(frame);
        altered[altered.length - 20]! ^= 0x01; // ciphertext
        return [altered];
      },
    });
    const c = await AgentClient.connect(address2, g.identity);
    expect(await codeOf(c.status())).toBe('AGENT_INTEGRITY');
    await c.close();
  });

  it('pins the agent host key: right key works, wrong or missing key is refused before any command', async () => {
    const host = generateIdentity('agent-host');
    const f = await agent({ hostKey: host.identity });
    const c = await AgentClient.connect(f.address, f.identity, { agentKey: host.identity.fingerprint });
    expect(c.agentHostKey).toBe(host.identity.fingerprint);
    await c.close();
    const unpinned = await AgentClient.connect(f.address, f.identity);
    expect(unpinned.agentHostKey).toBe(host.identity.fingerprint);
    await unpinned.close();

    const other = generateIdentity('other-host');
    expect(await codeOf(AgentClient.connect(f.address, f.identity, { agentKey: other.identity.fingerprint }))).toBe('AGENT_HOST_KEY_MISMATCH');
    const plain = await agent();
    expect(await codeOf(AgentClient.connect(plain.address, plain.identity, { agentKey: host.identity.fingerprint }))).toBe('AGENT_HOST_KEY_MISSING');

    // A man in the middle that alters the signed challenge is caught by the client.
    const { address } = await proxy(f, {
      fromAgent: (frame, i) => {
        if (i !== 0) return [frame];
        const altered = Buffer.from(frame);
        altered[4 + 40]! ^= 0x01; // the agent's ephemeral key
        return [altered];
      },
    });
    expect(await codeOf(AgentClient.connect(address, f.identity, { agentKey: host.identity.fingerprint }))).toBe('AGENT_HOST_KEY_BAD_SIGNATURE');
    expect(await f.events()).toEqual([]);
  });
});

describe('agent robustness', () => {
  it('survives garbage of 1 B, 100 B and 5 kB, partial frames and silence, and keeps serving', async () => {
    const f = await agent({ handshakeTimeoutMs: 400 });
    const port = f.server.address.port;
    const bad = await Promise.all([
      rawExchange(port, randomBytes(1)),
      rawExchange(port, randomBytes(100)),
      rawExchange(port, randomBytes(5000)),
      rawExchange(port, Buffer.from([0, 0, 0, 70, 1, 2, 3])), // a HELLO cut short
      rawExchange(port, frameOf(Buffer.from([0x01, 0x53]))), // a short HELLO
      rawExchange(port, frameOf(randomBytes(70))), // HELLO-sized noise
      rawExchange(port, Buffer.alloc(0)), // silence
      rawExchange(port, Buffer.from([0xff, 0xff, 0xff, 0xff])), // a 4 GiB frame announced
    ]);
    for (const r of bad) expect(r.closedByPeer).toBe(true);
    const c = await AgentClient.connect(f.address, f.identity);
    await c.freeze();
    await c.thaw();
    await c.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
    const kinds = new Set(f.logs.map((e) => e.event));
    expect(kinds.has('protocol-error')).toBe(true);
    expect(kinds.has('handshake-timeout')).toBe(true);
  });

  it('survives well-framed random messages of every type at every handshake stage', async () => {
    const f = await agent({ handshakeTimeoutMs: 1000 });
    const port = f.server.address.port;
    const types = [0x01, 0x02, 0x03, 0x04, 0x10, 0x00, 0xff];
    const conversations = Array.from({ length: 24 }, (_, i) => {
      const frames: Buffer[] = [];
      // Half start with a well-formed HELLO so that the random frame reaches the AUTH stage.
      if (i % 2 === 0) frames.push(frameOf(Buffer.concat([Buffer.from([0x01]), Buffer.from('SCAG'), Buffer.from([1]), randomBytes(64)])));
      for (let k = 0; k < 3; k++) {
        const length = 1 + randomBytes(2).readUInt16BE(0) % 1024;
        const body = randomBytes(length);
        body[0] = types[(i + k) % types.length]!;
        frames.push(frameOf(body));
      }
      return rawExchange(port, Buffer.concat(frames), { holdMs: 1500 });
    });
    for (const r of await Promise.all(conversations)) expect(r.closedByPeer).toBe(true);
    const c = await AgentClient.connect(f.address, f.identity);
    expect((await c.status()).ok).toBe(true);
    await c.close();
    expect(await f.events()).toEqual([]);
    expect(f.logs.some((e) => e.event === 'authenticated' && e.key !== f.identity.fingerprint)).toBe(false);
  });

  it('keeps serving through a burst of 100 connections held open', async () => {
    const f = await agent({ handshakeTimeoutMs: 10_000, maxPendingConnections: 8 });
    const port = f.server.address.port;
    const burst = Array.from({ length: 100 }, (_, i) => rawExchange(port, i % 2 === 0 ? Buffer.alloc(0) : randomBytes(3), { holdMs: 1500 }));
    await waitFor(() => f.logs.filter((e) => e.event === 'connected').length >= 100);
    expect(f.server.connectionCounts.pending).toBeLessThanOrEqual(8);
    const c = await AgentClient.connect(f.address, f.identity);
    await c.freeze();
    await c.thaw();
    await c.close();
    expect(await f.events()).toEqual(['freeze client', 'thaw client']);
    expect(f.logs.some((e) => e.event === 'evicted')).toBe(true);
    await Promise.all(burst);
  });

  it('refuses sessions beyond --max-sessions', async () => {
    const f = await agent({ maxSessions: 1 });
    const a = await AgentClient.connect(f.address, f.identity);
    expect(await codeOf(AgentClient.connect(f.address, f.identity))).toBe('AGENT_BUSY');
    await a.close();
    await waitFor(() => f.server.connectionCounts.sessions === 0);
    const b = await AgentClient.connect(f.address, f.identity);
    await b.close();
  });
});
