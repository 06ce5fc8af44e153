// Network addresses for the agent: "HOST:PORT" / "[IPv6]:PORT" endpoints, and the --allow list of
// IPv4/IPv6 addresses and CIDR blocks checked before a connection is read. Spec: docs/agent-protocol.md.

import { BlockList, isIP } from 'node:net';
import { SnapcloneError } from '../core/errors.js';

/** The agent's port when an address names none ("vm1.example" = "vm1.example:7410"). */
export const DEFAULT_AGENT_PORT = 7410;

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * Parses "HOST:PORT", "[IPv6]:PORT", "HOST" or a bare IPv6 address (default port). `optionName` names
 * the option in errors. Port 0 is allowed only when `allowPortZero` (listen on any free port).
 */
export function parseEndpoint(text: string, optionName: string, allowPortZero = false): Endpoint {
  const bad = (why: string): SnapcloneError =>
    new SnapcloneError('USAGE_BAD_ADDRESS', `${optionName}: cannot use "${text}" as an address: ${why}`, {
      kind: 'usage',
      expected: 'HOST:PORT, [IPv6]:PORT or HOST',
    });
  const t = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
    if (isIP(host) !== 6) throw bad('only an IPv6 address goes between brackets');
  } else if (isIP(t) === 6) {
    host = t;
  } else {
    const m = /^([^:\s/]+)(?::(\d+))?$/.exec(t);
    if (!m) throw bad('malformed');
    host = m[1]!;
    portText = m[2];
  }
  const port = portText === undefined ? DEFAULT_AGENT_PORT : Number(portText);
  if (!Number.isInteger(port) || port > 65535 || (port === 0 && !allowPortZero)) throw bad(`port ${portText} is out of range`);
  return { host, port };
}

export function formatEndpoint(e: Endpoint): string {
  return isIP(e.host) === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** "::ffff:127.0.0.2" (an IPv4 client on a dual-stack socket) is 127.0.0.2 for the allow list. */
export function normalizeRemoteAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** The --allow list. Empty means every address may try to authenticate. */
export class AllowList {
  private readonly blocks = new BlockList();
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    this.entries = entries.map((e) => e.trim());
    for (const entry of this.entries) {
      const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
      const family = m ? isIP(m[1]!) : 0;
      const maxPrefix = family === 4 ? 32 : 128;
      const prefix = m?.[2] === undefined ? maxPrefix : Number(m[2]);
      if (!m || family === 0 || prefix > maxPrefix) {
        throw new SnapcloneError('USAGE_BAD_ADDRESS', `--allow: "${entry}" is not an IP address or CIDR block`, {
          kind: 'usage',
          expected: 'e.g. 192.0.2.10, 192.0.2.0/24, 2001:db8::1, 2001:db8::/64',
        });
      }
      this.blocks.addSubnet(m[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  allows(remoteAddress: string | undefined): boolean {
    if (this.entries.length === 0) return true;
    if (remoteAddress === undefined) return false;
    const address = normalizeRemoteAddress(remoteAddress);
    const family = isIP(address);
    if (family === 0) return false;
    return this.blocks.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
