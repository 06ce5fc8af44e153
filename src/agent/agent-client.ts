// The hypervisor's side of the agent protocol: connect, authenticate with the private key, optionally
// check the agent's pinned host key, then freeze / thaw / status over the sealed channel.
// withFrozenGuest() runs a function (the snapshot) while frozen and always thaws. Spec: docs/agent-protocol.md.

import { connect as netConnect, type Socket } from 'node:net';
import { SnapcloneError, isSnapcloneError, type ErrorKind } from '../core/errors.js';
import { onShutdown, SHUTDOWN_PRIORITY_URGENT } from '../io/shutdown.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from './address.js';
import { FramedConnection } from './framed-connection.js';
import {
  MSG_REFUSED,
  decodeChallenge,
  deriveSessionKeys,
  encodeAuth,
  encodeHello,
  newEphemeral,
  newNonce,
  refusedError,
  verifyAgentHostKey,
} from './handshake.js';
import type { AgentIdentity, AuthorizedKey } from './keys.js';
import { MAX_REPLY_FRAME_BYTES, decodeReply, encodeJson, type AgentReply, type AgentRequest } from './messages.js';
import { SecureChannel } from './secure-channel.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
// Added to the agent's own command time limits to get the time to wait for a reply.
const REPLY_MARGIN_MS = 10_000;

/** Lifecycle events, in order, for logs and for tests that check what happened when. */
export type AgentClientEventType =
  | 'connected'
  | 'authenticated'
  | 'freeze-requested'
  | 'frozen'
  | 'freeze-failed'
  | 'thaw-requested'
  | 'thawed'
  | 'thaw-failed'
  | 'closed';

export interface AgentClientEvent {
  type: AgentClientEventType;
  /** performance.now() when it happened. */
  timeMs: number;
  reply?: AgentReply;
}

export interface AgentClientOptions {
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Overrides the reply time limit derived from the agent's announced command limits. */
  requestTimeoutMs?: number;
  /**
   * The agent's host key to require: a public key, or its "SHA256:..." fingerprint. Without it the
   * agent is not authenticated to the client (see the protocol document's threat model).
   */
  agentKey?: AuthorizedKey | string;
  /** Source address to connect from. */
  localAddress?: string;
  /** Called on each lifecycle event (a test hook, and a place to log). */
  onEvent?: (e: AgentClientEvent) => void;
}

/** A reply the agent sent with ok=false; `reply` holds what it reported (command output, state). */
export class AgentRequestError extends SnapcloneError {
  readonly reply: AgentReply;
  constructor(code: string, message: string, kind: ErrorKind, reply: AgentReply) {
    super(code, message, { kind, actual: reply.code });
    this.reply = reply;
  }
}

const REPLY_ERRORS: Record<string, { code: string; kind: ErrorKind; hint?: string }> = {
  ALREADY_FROZEN: { code: 'AGENT_ALREADY_FROZEN', kind: 'refused' },
  FREEZE_FAILED: { code: 'AGENT_FREEZE_FAILED', kind: 'external' },
  THAW_FAILED: { code: 'AGENT_THAW_FAILED', kind: 'external' },
  BAD_REQUEST: { code: 'AGENT_BAD_REQUEST', kind: 'refused' },
};

export class AgentClient {
  /** What the agent announced after authentication. */
  readonly agent: NonNullable<AgentReply['agent']>;
  /** The agent's host key fingerprint, when it has one (checked against agentKey when pinned). */
  readonly agentHostKey: string | undefined;
  readonly endpoint: Endpoint;
  private queue: Promise<unknown> = Promise.resolve();
  private closedByUs = false;

  private constructor(
    private readonly conn: FramedConnection,
    private readonly channel: SecureChannel,
    welcome: AgentReply,
    agentHostKey: string | undefined,
    endpoint: Endpoint,
    private readonly options: AgentClientOptions,
  ) {
    this.agent = welcome.agent ?? { name: '?', version: '?', maxFreezeSeconds: 60, freezeTimeoutSeconds: 60, thawTimeoutSeconds: 60 };
    this.agentHostKey = agentHostKey;
    this.endpoint = endpoint;
    void conn.closed.then(() => this.emit('closed'));
  }

  /** Connects and authenticates; resolves once the agent has confirmed the session. */
  static async connect(address: string | Endpoint, identity: AgentIdentity, options: AgentClientOptions = {}): Promise<AgentClient> {
    const endpoint = typeof address === 'string' ? parseEndpoint(address, 'agent address') : address;
    const socket = await openSocket(endpoint, options);
    const conn = new FramedConnection(socket, { maxFrameBytes: MAX_REPLY_FRAME_BYTES });
    options.onEvent?.({ type: 'connected', timeMs: performance.now() });
    const deadline = performance.now() + (options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
    const remaining = (): number => Math.max(0, deadline - performance.now());
    try {
      const ephemeral = newEphemeral();
      const hello = encodeHello(newNonce(), ephemeral.publicKey);
      conn.send(hello.bytes);
      const challenge = decodeChallenge(await conn.next(remaining(), "the agent's challenge"));
      const hostKey = verifyAgentHostKey(hello, challenge);
      checkPinnedHostKey(options.agentKey, hostKey?.fingerprint);
      const auth = encodeAuth(hello, challenge, identity);
      conn.send(auth.bytes);
      const keys = deriveSessionKeys(ephemeral, challenge.ephemeral, hello, challenge, auth);
      const channel = new SecureChannel(keys.clientToAgent, keys.agentToClient);
      const first = await conn.next(remaining(), "the agent's welcome");
      if (first[0] === MSG_REFUSED) throw refusedError(first);
      const welcome = decodeReply(channel.open(first));
      if (welcome.op !== 'welcome') {
        throw new SnapcloneError('AGENT_PROTOCOL', 'expected the welcome message', { kind: 'auth', actual: welcome.op });
      }
      const client = new AgentClient(conn, channel, welcome, hostKey?.fingerprint, endpoint, options);
      client.emit('authenticated', welcome);
      return client;
    } catch (e) {
      conn.destroy();
      if (isSnapcloneError(e) && e.code === 'AGENT_CONNECTION_CLOSED') {
        throw new SnapcloneError('AGENT_REFUSED', `the agent at ${formatEndpoint(endpoint)} closed the connection during the handshake`, {
          kind: 'auth',
          hint: 'this address may not be in its --allow list, or the agent is overloaded: see its log',
          cause: e,
        });
      }
      throw e;
    }
  }

  /**
   * Asks the agent to run its freeze command; resolves only when it confirms the guest is frozen.
   * `thawOnDisconnect` (default true): the agent thaws at once if this connection drops.
   * Throws AgentRequestError AGENT_ALREADY_FROZEN or AGENT_FREEZE_FAILED otherwise.
   */
  freeze(options: { thawOnDisconnect?: boolean; maxFreezeSeconds?: number } = {}): Promise<AgentReply> {
    const request: AgentRequest = { op: 'freeze', thawOnDisconnect: options.thawOnDisconnect ?? true };
    if (options.maxFreezeSeconds !== undefined) request.maxFreezeSeconds = options.maxFreezeSeconds;
    const limitMs = (this.agent.freezeTimeoutSeconds + this.agent.thawTimeoutSeconds) * 1000 + REPLY_MARGIN_MS;
    return this.command(request, 'freeze-requested', 'frozen', 'freeze-failed', limitMs);
  }

  /** Asks the agent to thaw; "not frozen" is a success (reply.code NOT_FROZEN) and runs nothing. */
  thaw(): Promise<AgentReply> {
    // A freeze queued ahead of this thaw on the agent may still be running.
    const limitMs = (this.agent.freezeTimeoutSeconds + 2 * this.agent.thawTimeoutSeconds) * 1000 + REPLY_MARGIN_MS;
    return this.command({ op: 'thaw' }, 'thaw-requested', 'thawed', 'thaw-failed', limitMs);
  }

  status(): Promise<AgentReply> {
    return this.command({ op: 'status' }, undefined, undefined, undefined, REPLY_MARGIN_MS);
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    await this.queue;
    this.conn.end();
    this.conn.destroy();
    await this.conn.closed;
  }

  private command(
    request: AgentRequest,
    before: AgentClientEventType | undefined,
    success: AgentClientEventType | undefined,
    failure: AgentClientEventType | undefined,
    defaultLimitMs: number,
  ): Promise<AgentReply> {
    // One request at a time: a thaw from a signal handler waits for the freeze in flight.
    const run = this.queue.then(async () => {
      if (this.closedByUs) throw new SnapcloneError('AGENT_CLOSED', 'the agent connection was closed', { kind: 'internal' });
      if (before) this.emit(before);
      const reply = await this.roundTrip(request, this.options.requestTimeoutMs ?? defaultLimitMs);
      if (reply.ok) {
        if (success) this.emit(success, reply);
        return reply;
      }
      if (failure) this.emit(failure, reply);
      const mapped = REPLY_ERRORS[reply.code] ?? { code: 'AGENT_PROTOCOL', kind: 'auth' as ErrorKind };
      throw new AgentRequestError(mapped.code, `the agent answered ${request.op}: ${reply.message}`, mapped.kind, reply);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async roundTrip(request: AgentRequest, limitMs: number): Promise<AgentReply> {
    this.conn.send(this.channel.seal(encodeJson(request)));
    let frame: Uint8Array;
    try {
      frame = await this.conn.next(limitMs, `the agent's reply to ${request.op}`);
    } catch (e) {
      if (isSnapcloneError(e) && e.code === 'AGENT_CONNECTION_CLOSED') {
        throw new SnapcloneError('AGENT_CONNECTION_LOST', `the connection to the agent was lost during ${request.op}: its state is unknown`, {
          kind: 'io',
          hint: 'query it with `snapclone agent status`; its watchdog thaws a freeze at the deadline in any case',
          cause: e,
        });
      }
      throw e;
    }
    return decodeReply(this.channel.open(frame));
  }

  private emit(type: AgentClientEventType, reply?: AgentReply): void {
    this.options.onEvent?.({ type, timeMs: performance.now(), ...(reply ? { reply } : {}) });
  }
}

function checkPinnedHostKey(pinned: AuthorizedKey | string | undefined, actual: string | undefined): void {
  if (pinned === undefined) return;
  const expected = typeof pinned === 'string' ? pinned : pinned.fingerprint;
  if (actual === undefined) {
    throw new SnapcloneError('AGENT_HOST_KEY_MISSING', 'the agent presented no host key, but one is pinned', {
      kind: 'auth',
      expected,
      hint: 'start the agent with --host-key, or a man in the middle is answering',
    });
  }
  if (actual !== expected) {
    throw new SnapcloneError('AGENT_HOST_KEY_MISMATCH', "the agent's host key is not the pinned one (a man in the middle, or another machine)", {
      kind: 'auth',
      expected,
      actual,
    });
  }
}

function openSocket(endpoint: Endpoint, options: AgentClientOptions): Promise<Socket> {
  const limitMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: endpoint.host,
      port: endpoint.port,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SnapcloneError('AGENT_TIMEOUT', `cannot connect to the agent at ${formatEndpoint(endpoint)}: timed out`, { kind: 'io' }));
    }, limitMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new SnapcloneError('AGENT_UNREACHABLE', `cannot connect to the agent at ${formatEndpoint(endpoint)}: ${e.code ?? e.message}`, {
          kind: 'io',
          cause: e,
        }),
      );
    });
  });
}

/**
 * Runs `fn` while the guest is frozen and always thaws afterwards: on success, on error, and on
 * SIGINT/SIGTERM (through an onShutdown hook). `fn` starts only after the agent confirmed the freeze.
 * A failed thaw after a successful `fn` is thrown unless `onThawError` takes it.
 */
export async function withFrozenGuest<T>(
  client: AgentClient,
  fn: (freeze: AgentReply) => Promise<T>,
  options: { maxFreezeSeconds?: number; onThawError?: (e: unknown) => void } = {},
): Promise<T> {
  let thawed: Promise<unknown> | undefined;
  const thawOnce = (): Promise<unknown> => (thawed ??= client.thaw());
  const unregister = onShutdown(
    `thaw the guest through its agent at ${formatEndpoint(client.endpoint)}`,
    async () => {
      await thawOnce();
    },
    SHUTDOWN_PRIORITY_URGENT,
  );
  let freeze: AgentReply;
  try {
    freeze = await client.freeze({ thawOnDisconnect: true, ...(options.maxFreezeSeconds === undefined ? {} : { maxFreezeSeconds: options.maxFreezeSeconds }) });
  } catch (e) {
    unregister();
    throw e;
  }
  let result: T;
  try {
    result = await fn(freeze);
  } catch (e) {
    unregister();
    await thawOnce().catch(() => undefined); // the first error is the one to report
    throw e;
  }
  unregister();
  try {
    await thawOnce();
  } catch (e) {
    if (!options.onThawError) throw e;
    options.onThawError(e);
  }
  return result;
}
