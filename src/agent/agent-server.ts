// The in-guest agent: a TCP server that checks the peer address against --allow before reading a
// byte, authenticates the hypervisor's key by a signed challenge, then serves sealed freeze / thaw /
// status commands. Every resource is bounded. Spec: docs/agent-protocol.md.

import { createServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { SnapcloneError, isSnapcloneError } from '../core/errors.js';
import { formatEndpoint, normalizeRemoteAddress, type AllowList, type Endpoint } from './address.js';
import { discardLog, type AgentLogger } from './agent-log.js';
import { FramedConnection } from './framed-connection.js';
import { FreezeController } from './freeze-controller.js';
import {
  decodeAuth,
  decodeHello,
  deriveSessionKeys,
  encodeChallenge,
  encodeRefused,
  newEphemeral,
  newNonce,
  REFUSED_BUSY,
  REFUSED_NOT_AUTHORIZED,
  REFUSED_PROTOCOL,
  REFUSED_TIMEOUT,
  verifyClientAuth,
} from './handshake.js';
import type { HookCommand } from './hook-command.js';
import { fingerprintOf, type AgentIdentity, type AuthorizedKey } from './keys.js';
import { MAX_REQUEST_FRAME_BYTES, decodeRequest, encodeJson, type AgentReply, type AgentRequest } from './messages.js';
import { SecureChannel } from './secure-channel.js';

export const DEFAULT_MAX_FREEZE_SECONDS = 60;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_PENDING = 8;
export const DEFAULT_MAX_SESSIONS = 4;

export interface AgentServerOptions {
  listen: Endpoint;
  authorizedKeys: readonly AuthorizedKey[];
  allow: AllowList;
  /** The agent's own key, so that clients can pin it (optional; see the protocol document). */
  hostKey?: AgentIdentity;
  freezeCommand: HookCommand;
  thawCommand: HookCommand;
  maxFreezeSeconds?: number;
  /** Default: the freeze limit. */
  freezeTimeoutSeconds?: number;
  thawTimeoutSeconds?: number;
  /** From accept to a verified AUTH. */
  handshakeTimeoutMs?: number;
  /** An authenticated session with no request for this long is closed. */
  idleTimeoutMs?: number;
  /** Connections not yet authenticated; the oldest is dropped to make room for a new one. */
  maxPendingConnections?: number;
  /** Authenticated sessions at once; more are refused. */
  maxSessions?: number;
  /** Shown to clients after authentication (default: the host name). */
  name?: string;
  /** snapclone's version, shown to clients after authentication. */
  version?: string;
  log?: AgentLogger;
}

export class AgentServer {
  readonly controller: FreezeController;
  private readonly server: Server;
  private readonly pending = new Set<Socket>();
  private readonly sessions = new Set<Socket>();
  private readonly log: AgentLogger;
  private closing = false;
  private bound: Endpoint | undefined;

  private constructor(private readonly options: AgentServerOptions) {
    this.log = options.log ?? discardLog;
    const maxFreezeMs = (options.maxFreezeSeconds ?? DEFAULT_MAX_FREEZE_SECONDS) * 1000;
    this.controller = new FreezeController({
      freezeCommand: options.freezeCommand,
      thawCommand: options.thawCommand,
      maxFreezeMs,
      freezeTimeoutMs: (options.freezeTimeoutSeconds ?? maxFreezeMs / 1000) * 1000,
      thawTimeoutMs: (options.thawTimeoutSeconds ?? 60) * 1000,
      log: this.log,
    });
    // Paused: nothing is read from a socket before its address has been checked.
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server.maxConnections = (options.maxPendingConnections ?? DEFAULT_MAX_PENDING) + (options.maxSessions ?? DEFAULT_MAX_SESSIONS) + 64;
  }

  static async start(options: AgentServerOptions): Promise<AgentServer> {
    if (options.authorizedKeys.length === 0) {
      throw new SnapcloneError('USAGE_NO_AUTHORIZED_KEY', 'the agent needs at least one authorized public key', { kind: 'usage' });
    }
    const agent = new AgentServer(options);
    await new Promise<void>((resolve, reject) => {
      agent.server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new SnapcloneError('AGENT_LISTEN', `cannot listen on ${formatEndpoint(options.listen)}: ${e.code ?? e.message}`, {
            kind: 'io',
            cause: e,
          }),
        ),
      );
      agent.server.listen({ host: options.listen.host, port: options.listen.port }, () => resolve());
    });
    agent.server.on('error', (e) => agent.log({ level: 'error', event: 'server-error', message: String(e) }));
    const a = agent.server.address();
    agent.bound = typeof a === 'object' && a ? { host: a.address, port: a.port } : options.listen;
    agent.log({
      level: 'info',
      event: 'listening',
      message: `listening on ${formatEndpoint(agent.bound)}`,
      address: formatEndpoint(agent.bound),
      port: agent.bound.port,
      authorizedKeys: options.authorizedKeys.map((k) => k.fingerprint),
      allow: options.allow.isEmpty ? 'any address' : options.allow.entries,
      hostKey: options.hostKey?.fingerprint ?? null,
      maxFreezeSeconds: maxFreezeSecondsOf(options),
    });
    if (options.allow.isEmpty) {
      agent.log({ level: 'warn', event: 'no-allow-list', message: 'no --allow given: any address may attempt to authenticate' });
    }
    return agent;
  }

  get address(): Endpoint {
    return this.bound ?? this.options.listen;
  }

  get connectionCounts(): { pending: number; sessions: number } {
    return { pending: this.pending.size, sessions: this.sessions.size };
  }

  /** Stops listening, closes every connection, and thaws the guest if it is frozen. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of [...this.pending, ...this.sessions]) s.destroy();
    await this.controller.close();
    await closed;
    this.log({ level: 'info', event: 'stopped', message: 'stopped' });
  }

  private accept(socket: Socket): void {
    const address = normalizeRemoteAddress(socket.remoteAddress ?? '?');
    const remote = formatEndpoint({ host: address, port: socket.remotePort ?? 0 });
    // A reset racing the close must not become an unhandled 'error' event.
    socket.on('error', () => {});
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (!this.options.allow.allows(socket.remoteAddress)) {
      this.log({ level: 'warn', event: 'refused', message: `refused ${remote}: address not in --allow`, remote, reason: 'address-not-allowed' });
      socket.destroy();
      return;
    }
    const maxPending = this.options.maxPendingConnections ?? DEFAULT_MAX_PENDING;
    if (this.pending.size >= maxPending) {
      // Dropping the oldest unauthenticated connection keeps a flood of idle connections from locking
      // out the hypervisor: a real client authenticates within milliseconds.
      const oldest = this.pending.values().next().value as Socket;
      this.pending.delete(oldest);
      oldest.destroy();
      this.log({ level: 'warn', event: 'evicted', message: `too many unauthenticated connections: dropped the oldest to admit ${remote}`, remote });
    }
    this.pending.add(socket);
    socket.setNoDelay(true);
    const conn = new FramedConnection(socket, { maxFrameBytes: MAX_REQUEST_FRAME_BYTES });
    this.log({ level: 'info', event: 'connected', message: `connection from ${remote}`, remote });
    socket.resume();
    this.serve(conn, remote)
      .catch((e: unknown) => {
        this.log({ level: 'error', event: 'internal-error', message: `unexpected error: ${String((e as Error)?.stack ?? e)}`, remote });
      })
      .finally(() => {
        this.pending.delete(socket);
        this.sessions.delete(socket);
        socket.destroy();
      });
  }

  private async serve(conn: FramedConnection, remote: string): Promise<void> {
    const handshakeMs = this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const deadline = performance.now() + handshakeMs;
    const remaining = (): number => Math.max(0, deadline - performance.now());
    let stage = 'HELLO';
    let keyFingerprint: string | undefined;
    try {
      const hello = decodeHello(await conn.next(remaining(), 'HELLO'));
      stage = 'AUTH';
      const ephemeral = newEphemeral();
      const challenge = encodeChallenge(hello, newNonce(), ephemeral.publicKey, this.options.hostKey);
      conn.send(challenge.bytes);
      const auth = decodeAuth(await conn.next(remaining(), 'AUTH'));
      keyFingerprint = fingerprintOf(auth.publicKey);
      const verdict = verifyClientAuth(hello, challenge, auth, this.options.authorizedKeys);
      if (!verdict.ok) {
        this.log({
          level: 'warn',
          event: 'auth-failed',
          message: `refused ${remote}: ${verdict.reason === 'unknown-key' ? 'key not authorized' : 'bad signature (not this session, or a replay)'} (${keyFingerprint})`,
          remote,
          key: keyFingerprint,
          reason: verdict.reason,
        });
        conn.end(encodeRefused(REFUSED_NOT_AUTHORIZED));
        return;
      }
      const keys = deriveSessionKeys(ephemeral, hello.ephemeral, hello, challenge, auth);
      const socket = conn.socket;
      this.pending.delete(socket);
      if (this.sessions.size >= (this.options.maxSessions ?? DEFAULT_MAX_SESSIONS)) {
        this.log({ level: 'warn', event: 'busy', message: `refused ${remote}: too many sessions`, remote, key: keyFingerprint });
        conn.end(encodeRefused(REFUSED_BUSY));
        return;
      }
      this.sessions.add(socket);
      this.log({
        level: 'info',
        event: 'authenticated',
        message: `${remote} authenticated as ${keyFingerprint}${verdict.key.comment ? ` (${verdict.key.comment})` : ''}`,
        remote,
        key: keyFingerprint,
        session: keys.sessionId,
      });
      await this.session(conn, remote, keyFingerprint, keys.sessionId, new SecureChannel(keys.agentToClient, keys.clientToAgent));
    } catch (e) {
      if (!isSnapcloneError(e)) throw e;
      const timedOut = e.code === 'AGENT_TIMEOUT';
      const closed = e.code === 'AGENT_CONNECTION_CLOSED';
      this.log({
        level: 'warn',
        event: timedOut ? 'handshake-timeout' : closed ? 'closed-during-handshake' : 'protocol-error',
        message: `dropped ${remote} while waiting for ${stage}: ${e.message}`,
        remote,
        key: keyFingerprint,
        code: e.code,
      });
      if (!closed) conn.end(encodeRefused(timedOut ? REFUSED_TIMEOUT : REFUSED_PROTOCOL));
    }
  }

  private async session(conn: FramedConnection, remote: string, key: string, sessionId: string, channel: SecureChannel): Promise<void> {
    const idleMs = this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    const send = (reply: AgentReply): void => conn.send(channel.seal(encodeJson(reply)));
    try {
      send({
        op: 'welcome',
        ok: true,
        code: 'WELCOME',
        message: `snapclone agent ${this.options.name ?? hostname()}`,
        agent: {
          name: this.options.name ?? hostname(),
          version: this.options.version ?? 'unknown',
          maxFreezeSeconds: maxFreezeSecondsOf(this.options),
          freezeTimeoutSeconds: this.options.freezeTimeoutSeconds ?? maxFreezeSecondsOf(this.options),
          thawTimeoutSeconds: this.options.thawTimeoutSeconds ?? 60,
        },
        state: this.controller.state,
      });
      for (;;) {
        let frame: Uint8Array;
        try {
          // The session holding a freeze may stay quiet until the watchdog's deadline.
          frame = await conn.next(Math.max(idleMs, this.controller.remainingMsFor(sessionId) + 5000), 'a request');
        } catch (e) {
          if (isSnapcloneError(e) && e.code === 'AGENT_TIMEOUT') {
            this.log({ level: 'info', event: 'idle-timeout', message: `closing idle session of ${remote}`, remote, key, session: sessionId });
            conn.destroy();
            return;
          }
          if (isSnapcloneError(e) && e.code === 'AGENT_CONNECTION_CLOSED') return;
          throw e;
        }
        let request: AgentRequest;
        try {
          request = decodeRequest(channel.open(frame));
        } catch (e) {
          if (!isSnapcloneError(e)) throw e;
          if (e.code === 'AGENT_BAD_REQUEST') {
            // Authenticated but not understood (a newer client?): say so and keep the session.
            this.log({ level: 'warn', event: 'bad-request', message: `bad request from ${remote}: ${e.message}`, remote, key, session: sessionId });
            send({ op: 'error', ok: false, code: 'BAD_REQUEST', message: e.message, state: this.controller.state });
            continue;
          }
          // Altered, forged or replayed: the channel can no longer be trusted; say nothing and close.
          this.log({ level: 'error', event: 'integrity-failure', message: `closing ${remote}: ${e.message}`, remote, key, session: sessionId, code: e.code });
          conn.destroy();
          return;
        }
        this.log({ level: 'info', event: 'request', message: `${request.op} requested by ${key}`, remote, key, session: sessionId, op: request.op });
        send(await this.handle(request, key, sessionId));
      }
    } finally {
      this.log({ level: 'info', event: 'disconnected', message: `${remote} disconnected`, remote, key, session: sessionId });
      this.controller.sessionClosed(sessionId);
    }
  }

  private async handle(request: AgentRequest, key: string, sessionId: string): Promise<AgentReply> {
    switch (request.op) {
      case 'freeze':
        return {
          op: 'freeze',
          ...(await this.controller.freeze({
            sessionId,
            by: key,
            thawOnDisconnect: request.thawOnDisconnect,
            ...(request.maxFreezeSeconds === undefined ? {} : { maxFreezeMs: request.maxFreezeSeconds * 1000 }),
          })),
        };
      case 'thaw':
        return { op: 'thaw', ...(await this.controller.thaw('client', key)) };
      case 'status':
        return { op: 'status', ...this.controller.status() };
    }
  }
}

function maxFreezeSecondsOf(o: AgentServerOptions): number {
  return o.maxFreezeSeconds ?? DEFAULT_MAX_FREEZE_SECONDS;
}
