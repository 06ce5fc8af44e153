// Quiescing the guest around the snapshot: connect to its agent before anything is created, then
// freeze, create the snapshot only once the freeze is confirmed, and thaw right after (withFrozenGuest
// thaws on every path, SIGINT/SIGTERM included, with urgent priority). A failed freeze aborts the
// backup, unless --allow-unquiesced asks for a crash-consistent one. What happened is recorded for
// the manifest. Spec: issue 5 "--agent"; anchors.md §4 item 6 (the freeze window must stay short).

import { isSnapcloneError, SnapcloneError } from '../core/errors.js';
import { AgentClient, withFrozenGuest, type AgentClientEvent } from '../agent/agent-client.js';
import type { AgentIdentity, AuthorizedKey } from '../agent/keys.js';
import type { AgentReply } from '../agent/messages.js';
import { readKnownAgents, rememberAgent } from './known-agents.js';
import type { Manifest } from './manifest.js';

export interface GuestFreezeOptions {
  /** HOST:PORT of the agent. */
  address: string;
  identity: AgentIdentity;
  /** The agent's pinned host key (--agent-key), a public key or its SHA256 fingerprint. */
  agentKey?: AuthorizedKey | string;
  /** Go on without a freeze (crash-consistent) when the agent cannot freeze. */
  allowUnquiesced: boolean;
  /** The agent thaws on its own after this long, whatever happens (default: the agent's). */
  maxFreezeSeconds?: number;
  /**
   * STATE_DIR/known-agents: without agentKey, the key recorded there for this address is required,
   * and a first agent's key is recorded (trust on first use, as ssh's known_hosts).
   */
  knownAgentsPath?: string;
  /** Every client event (tests check the order freeze, snapshot, thaw). */
  onEvent?: (e: AgentClientEvent) => void;
  log?: (message: string) => void;
}

export type QuiesceRecord = NonNullable<Manifest['quiesce']>;

export class GuestFreeze {
  private client: AgentClient | undefined;
  private connectError: unknown;
  private frozenAtMs: number | undefined;
  private thawedAtMs: number | undefined;
  private freezeReply: AgentReply | undefined;
  private freezeError: unknown;
  private thawError: unknown;
  /** True once the snapshot was created while the guest was frozen. */
  quiesced = false;

  private constructor(private readonly options: GuestFreezeOptions) {}

  /**
   * Connects and authenticates now, so that the freeze itself is one round trip later. A failure
   * throws, unless allowUnquiesced (then the backup goes on without a freeze).
   */
  static async connect(options: GuestFreezeOptions): Promise<GuestFreeze> {
    const g = new GuestFreeze(options);
    const known = options.agentKey === undefined && options.knownAgentsPath !== undefined ? (await readKnownAgents(options.knownAgentsPath)).get(options.address) : undefined;
    const pin = options.agentKey ?? known;
    try {
      try {
        g.client = await AgentClient.connect(options.address, options.identity, {
          ...(pin === undefined ? {} : { agentKey: pin }),
          onEvent: (e) => g.onEvent(e),
        });
      } catch (e) {
        throw known !== undefined ? withKnownAgentHint(e, options.address, options.knownAgentsPath as string) : e;
      }
      options.log?.(`agent ${g.client.agent.name} at ${options.address} authenticated`);
      if (options.agentKey === undefined && options.knownAgentsPath !== undefined) await g.recordFirstContact(options.knownAgentsPath, known);
    } catch (e) {
      await g.client?.close().catch(() => {});
      g.client = undefined;
      if (!options.allowUnquiesced) throw unquiescedError(e, options.address);
      g.connectError = e;
      options.log?.(`warning: cannot reach the agent at ${options.address} (${describe(e)}): the backup will be crash-consistent (--allow-unquiesced)`);
    }
    return g;
  }

  /** Trust on first use: records a new agent's host key, warns about an agent that has none. */
  private async recordFirstContact(path: string, known: string | undefined): Promise<void> {
    const fingerprint = this.client?.agentHostKey;
    if (fingerprint === undefined) {
      this.options.log?.(
        `warning: the agent at ${this.options.address} has no host key, so nothing proves it is your guest's: start it with --host-key (see snapclone agent --help)`,
      );
    } else if (known === undefined) {
      await rememberAgent(path, this.options.address, fingerprint);
      this.options.log?.(`agent host key ${fingerprint} recorded in ${path}: later backups require it (first contact)`);
    }
  }

  /** Runs `create` (the snapshot) while the guest is frozen; see the file comment. */
  async around<T>(create: () => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client) return create();
    let called = false;
    try {
      return await withFrozenGuest(
        client,
        async (reply) => {
          this.freezeReply = reply;
          called = true;
          const result = await create();
          this.quiesced = true;
          return result;
        },
        {
          ...(this.options.maxFreezeSeconds === undefined ? {} : { maxFreezeSeconds: this.options.maxFreezeSeconds }),
          onThawError: (e) => {
            // The snapshot is taken and consistent; the agent's watchdog thaws the guest in any case.
            this.thawError = e;
            this.options.log?.(`warning: the thaw failed (${describe(e)}); the agent's watchdog will thaw the guest`);
          },
        },
      );
    } catch (e) {
      if (called) throw e; // the snapshot itself failed: that error is the one to report
      if (!this.options.allowUnquiesced) throw unquiescedError(e, this.options.address);
      this.freezeError = e;
      this.options.log?.(`warning: the guest could not be frozen (${describe(e)}): taking a crash-consistent snapshot (--allow-unquiesced)`);
      return create();
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.close().catch(() => {});
  }

  /** What the manifest records about the freeze. */
  record(): QuiesceRecord {
    const r: QuiesceRecord = { agent: this.options.address };
    if (this.frozenAtMs !== undefined) r.frozenAt = new Date(this.frozenAtMs).toISOString();
    if (this.thawedAtMs !== undefined) r.thawedAt = new Date(this.thawedAtMs).toISOString();
    if (this.frozenAtMs !== undefined && this.thawedAtMs !== undefined) r.frozenMs = this.thawedAtMs - this.frozenAtMs;
    const output = this.freezeReply?.freezeCommand?.outputTail;
    if (typeof output === 'string' && output !== '') r.freezeOutput = output.slice(-2000);
    const failure = this.connectError ?? this.freezeError;
    if (failure !== undefined) r.freezeError = describe(failure);
    if (this.thawError !== undefined) r.thawError = describe(this.thawError);
    return r;
  }

  private onEvent(e: AgentClientEvent): void {
    // Wall-clock times for the manifest; the client's own are monotonic.
    if (e.type === 'frozen') this.frozenAtMs = Date.now();
    if (e.type === 'thawed' && this.frozenAtMs !== undefined && this.thawedAtMs === undefined) this.thawedAtMs = Date.now();
    this.options.onEvent?.(e);
  }
}

function describe(e: unknown): string {
  return isSnapcloneError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}

/** The freeze failed and a crash-consistent backup was not asked for: the backup stops. */
function unquiescedError(e: unknown, address: string): SnapcloneError {
  const base = isSnapcloneError(e) ? e : undefined;
  return new SnapcloneError(base?.code ?? 'AGENT_FREEZE_FAILED', `the guest could not be frozen through its agent at ${address}: ${base?.message ?? String(e)}; no snapshot was taken`, {
    kind: base?.kind ?? 'external',
    ...(base?.path === undefined ? {} : { path: base.path }),
    hint: base?.hint ?? 'fix the agent (see `snapclone agent status`), or add --allow-unquiesced for a crash-consistent backup',
    cause: e,
  });
}

/** A known agent's key changed or vanished: say where the recorded key is and how to accept a new one. */
function withKnownAgentHint(e: unknown, address: string, path: string): unknown {
  if (!isSnapcloneError(e) || (e.code !== 'AGENT_HOST_KEY_MISMATCH' && e.code !== 'AGENT_HOST_KEY_MISSING')) return e;
  const what = e.code === 'AGENT_HOST_KEY_MISSING' ? 'presented no host key' : 'presented another host key';
  return new SnapcloneError(e.code, `the agent at ${address} ${what} than the one recorded at its first contact (a man in the middle, or another machine)`, {
    kind: e.kind,
    path,
    ...(e.expected === undefined ? {} : { expected: e.expected }),
    ...(e.actual === undefined ? {} : { actual: e.actual }),
    hint: `if the guest's agent key was replaced on purpose, delete the line for ${address} in ${path} (or pass --agent-key with the new key)`,
    cause: e,
  });
}
