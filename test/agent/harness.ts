// Test support for the agent: a real agent on loopback whose freeze/thaw commands append to a file,
// client identities, and a frame-aware TCP proxy that records, alters, drops or injects frames.

import { readFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { AllowList } from '../../src/agent/address.js';
import type { AgentLogEvent } from '../../src/agent/agent-log.js';
import { AgentServer, type AgentServerOptions } from '../../src/agent/agent-server.js';
import { generateIdentity, parseAuthorizedKeys, type AgentIdentity } from '../../src/agent/keys.js';
import { makeTempDir } from '../helpers/tmp.js';

export interface AgentFixture {
  dir: string;
  identity: AgentIdentity;
  server: AgentServer;
  address: string;
  logs: AgentLogEvent[];
  /** Lines the freeze and thaw commands appended, in order. */
  events(): Promise<string[]>;
  close(): Promise<void>;
}

export function newIdentity(comment = 'test'): { identity: AgentIdentity; publicLine: string } {
  const g = generateIdentity(comment);
  return { identity: g.identity, publicLine: g.publicLine };
}

export async function startAgent(
  overrides: Partial<AgentServerOptions> & { allowList?: string[]; freezeShell?: string; thawShell?: string } = {},
): Promise<AgentFixture> {
  const { dir, cleanup } = await makeTempDir('snapclone-agent-');
  const { identity, publicLine } = newIdentity('hypervisor');
  const eventsFile = join(dir, 'events.log');
  const logs: AgentLogEvent[] = [];
  const { allowList, freezeShell, thawShell, ...rest } = overrides;
  const server = await AgentServer.start({
    listen: { host: '127.0.0.1', port: 0 },
    authorizedKeys: parseAuthorizedKeys(publicLine),
    allow: new AllowList(allowList ?? []),
    freezeCommand: { shell: `export SNAPCLONE_TEST_DIR='${dir}'; ` + (freezeShell ?? `echo "freeze $SNAPCLONE_AGENT_REASON" >> '${eventsFile}'; echo flushed`) },
    thawCommand: { shell: thawShell ?? `echo "thaw $SNAPCLONE_AGENT_REASON" >> '${eventsFile}'` },
    maxFreezeSeconds: 30,
    log: (e) => logs.push(e),
    ...rest,
  });
  const a = server.address;
  return {
    dir,
    identity,
    server,
    address: a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`,
    logs,
    async events() {
      try {
        return (await readFile(eventsFile, 'utf8')).split('\n').filter((l) => l !== '');
      } catch {
        return [];
      }
    },
    async close() {
      await server.close();
      await cleanup();
    },
  };
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export type FrameHook = (frame: Buffer, index: number) => Buffer[];

/**
 * A man in the middle: forwards length-prefixed frames between a client and the agent, recording
 * them, and lets a test rewrite each direction's frames (alter, drop, duplicate, inject).
 */
export class FrameProxy {
  readonly clientFrames: Buffer[] = [];
  readonly agentFrames: Buffer[] = [];
  /** Raw bytes the client sent, as they arrived (for replay). */
  readonly clientBytes: Buffer[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly hooks: { fromClient?: FrameHook; fromAgent?: FrameHook } = {},
  ) {}

  async start(): Promise<string> {
    this.server = createServer((client) => {
      const upstream = connect(this.target);
      this.sockets.add(client);
      this.sockets.add(upstream);
      client.on('data', (b: Buffer) => this.clientBytes.push(Buffer.from(b)));
      pump(client, upstream, this.clientFrames, this.hooks.fromClient);
      pump(upstream, client, this.agentFrames, this.hooks.fromAgent);
      const closeBoth = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', closeBoth);
      upstream.on('close', closeBoth);
      client.on('error', closeBoth);
      upstream.on('error', closeBoth);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

function pump(from: Socket, to: Socket, record: Buffer[], hook: FrameHook | undefined): void {
  let buffered = Buffer.alloc(0);
  let index = 0;
  from.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) break;
      const frame = Buffer.from(buffered.subarray(0, 4 + length));
      buffered = buffered.subarray(4 + length);
      record.push(frame);
      const out = hook ? hook(frame, index) : [frame];
      index++;
      for (const f of out) if (!to.destroyed) to.write(f);
    }
  });
}

/** A frame carrying `payload`, as the protocol puts it on the wire. */
export function frameOf(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

/** Opens a raw TCP connection, writes `bytes`, and resolves with whatever came back once it closed. */
export function rawExchange(
  port: number,
  bytes: Buffer,
  options: { host?: string; localAddress?: string; holdMs?: number } = {},
): Promise<{ received: Buffer; closedByPeer: boolean }> {
  return new Promise((resolve) => {
    const s = connect({ port, host: options.host ?? '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    const got: Buffer[] = [];
    let closedByPeer = false;
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      if (bytes.length > 0) s.write(bytes);
      timer = setTimeout(() => s.destroy(), options.holdMs ?? 2000);
    });
    s.on('data', (b: Buffer) => got.push(b));
    s.on('end', () => {
      closedByPeer = true;
    });
    s.on('error', () => {
      closedByPeer = true;
    });
    s.on('close', () => {
      if (timer) clearTimeout(timer);
      resolve({ received: Buffer.concat(got), closedByPeer });
    });
  });
}
