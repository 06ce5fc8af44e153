// The agent's smaller parts on their own: endpoints and allow lists, the sealed channel, the command
// runner's bounds, and the configuration file checks.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AllowList, DEFAULT_AGENT_PORT, formatEndpoint, parseEndpoint } from '../../src/agent/address.js';
import { loadAgentConfig, parseAgentConfig } from '../../src/agent/agent-config.js';
import { runHookCommand } from '../../src/agent/hook-command.js';
import { decodeRequest } from '../../src/agent/messages.js';
import { SecureChannel } from '../../src/agent/secure-channel.js';
import { makeTempDir } from '../helpers/tmp.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'no error';
}

describe('endpoints and allow lists', () => {
  it('parses HOST:PORT, [IPv6]:PORT, bare hosts and bare IPv6', () => {
    expect(parseEndpoint('192.0.2.1:7000', 'x')).toEqual({ host: '192.0.2.1', port: 7000 });
    expect(parseEndpoint('[2001:db8::1]:7001', 'x')).toEqual({ host: '2001:db8::1', port: 7001 });
    expect(parseEndpoint('vm1.example', 'x')).toEqual({ host: 'vm1.example', port: DEFAULT_AGENT_PORT });
    expect(parseEndpoint('::1', 'x')).toEqual({ host: '::1', port: DEFAULT_AGENT_PORT });
    expect(parseEndpoint('127.0.0.1:0', 'x', true).port).toBe(0);
    expect(formatEndpoint({ host: '::1', port: 5 })).toBe('[::1]:5');
    for (const bad of ['127.0.0.1:0', '127.0.0.1:65536', '[vm1]:80', 'a b:1', '1.2.3.4:x', '']) {
      expect(codeOf(() => parseEndpoint(bad, 'x')), bad).toBe('USAGE_BAD_ADDRESS');
    }
  });

  it('matches IPv4 and IPv6 addresses and CIDR blocks, IPv4-mapped included', () => {
    const a = new AllowList(['192.0.2.0/24', '10.1.2.3', '2001:db8::/32']);
    expect(a.allows('192.0.2.200')).toBe(true);
    expect(a.allows('192.0.3.1')).toBe(false);
    expect(a.allows('10.1.2.3')).toBe(true);
    expect(a.allows('10.1.2.4')).toBe(false);
    expect(a.allows('::ffff:10.1.2.3')).toBe(true);
    expect(a.allows('2001:db8:ffff::1')).toBe(true);
    expect(a.allows('2001:db9::1')).toBe(false);
    expect(a.allows(undefined)).toBe(false);
    expect(new AllowList([]).allows('203.0.113.9')).toBe(true);
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'host.example', '10.0.0.0/', '1.2.3']) {
      expect(codeOf(() => new AllowList([bad])), bad).toBe('USAGE_BAD_ADDRESS');
    }
  });
});

describe('sealed channel', () => {
  const k1 = new Uint8Array(32).fill(1);
  const k2 = new Uint8Array(32).fill(2);

  it('round-trips in order and refuses replays, reordering, alteration and the wrong key', () => {
    const client = new SecureChannel(k1, k2);
    const agent = new SecureChannel(k2, k1);
    const m0 = client.seal(new TextEncoder().encode('{"op":"freeze","thawOnDisconnect":true}'));
    const m1 = client.seal(new TextEncoder().encode('{"op":"thaw"}'));
    expect(decodeRequest(agent.open(m0)).op).toBe('freeze');
    expect(codeOf(() => agent.open(m0))).toBe('AGENT_REPLAY');
    const altered = Uint8Array.from(m1);
    altered[12]! ^= 1;
    expect(codeOf(() => agent.open(altered))).toBe('AGENT_INTEGRITY');
    // A failed open consumes nothing: the genuine message still opens.
    expect(decodeRequest(agent.open(m1)).op).toBe('thaw');
    // The same key in the other direction is a different key: no reflection.
    const reflected = new SecureChannel(k1, k2).seal(new TextEncoder().encode('{"op":"thaw"}'));
    expect(codeOf(() => new SecureChannel(k1, k2).open(reflected))).toBe('AGENT_INTEGRITY');
    expect(codeOf(() => agent.open(new Uint8Array([0x10, 1, 2])))).toBe('AGENT_PROTOCOL');
  });

  it('checks requests', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(decodeRequest(enc('{"op":"freeze","thawOnDisconnect":false,"maxFreezeSeconds":5}'))).toEqual({ op: 'freeze', thawOnDisconnect: false, maxFreezeSeconds: 5 });
    for (const bad of ['', '[]', '{"op":"reboot"}', '{"op":"freeze"}', '{"op":"freeze","thawOnDisconnect":true,"maxFreezeSeconds":-1}', '\xff']) {
      expect(codeOf(() => decodeRequest(enc(bad))), bad).toBe('AGENT_BAD_REQUEST');
    }
  });
});

describe('hook commands', () => {
  it('reports exit status and keeps only a bounded tail of the output', async () => {
    const r = await runHookCommand({ shell: 'head -c 100000 /dev/zero | tr "\\0" a; echo; echo last line; exit 7' }, { timeoutMs: 10_000, outputTailBytes: 64 });
    expect(r.exitCode).toBe(7);
    expect(r.outputBytes).toBe(100_000 + 1 + 10);
    expect(r.outputTail.length).toBeLessThanOrEqual(64);
    expect(r.outputTail.endsWith('\nlast line\n')).toBe(true);
  });

  it('runs argv without a shell and reports a command that cannot start', async () => {
    const ok = await runHookCommand({ argv: ['printf', '%s', 'a b; c'] }, { timeoutMs: 5000 });
    expect(ok.outputTail).toBe('a b; c');
    const missing = await runHookCommand({ argv: ['/nonexistent/freeze-hook'] }, { timeoutMs: 5000 });
    expect(missing.exitCode).toBeNull();
    expect(missing.startError).toMatch(/ENOENT/);
  });

  it('kills a command at its deadline', async () => {
    const r = await runHookCommand({ shell: 'echo started; exec sleep 30' }, { timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM');
    expect(r.outputTail).toBe('started\n');
    expect(r.durationMs).toBeLessThan(3000);
  });
});

describe('agent configuration file', () => {
  it('reads a configuration, resolving paths against its folder', async () => {
    const { dir, cleanup } = await makeTempDir();
    const file = join(dir, 'agent.json');
    await writeFile(
      file,
      JSON.stringify({ listen: '0.0.0.0:7410', authorizedKeys: ['hv.pub'], allow: ['192.0.2.1'], freezeCmd: ['fsfreeze', '-f', '/'], thawCmd: 'fsfreeze -u /', maxFreezeSeconds: 20, log: 'json' }),
    );
    const c = await loadAgentConfig(file);
    expect(c.authorizedKeys).toEqual([join(dir, 'hv.pub')]);
    expect(c.freezeCmd).toEqual(['fsfreeze', '-f', '/']);
    expect(c.maxFreezeSeconds).toBe(20);
    await writeFile(file, '{ "listen": ');
    await expect(loadAgentConfig(file)).rejects.toMatchObject({ code: 'AGENT_CONFIG' });
    await cleanup();
  });

  it('refuses unknown keys and wrong types', () => {
    for (const bad of [{ maxFreez: 5 }, { maxFreezeSeconds: 0 }, { maxFreezeSeconds: '60' }, { freezeCmd: [] }, { log: 'xml' }, { maxSessions: 1.5 }, [1]]) {
      expect(codeOf(() => parseAgentConfig(bad, '/etc/agent.json')), JSON.stringify(bad)).toBe('AGENT_CONFIG');
    }
  });
});
