// `snapclone agent serve|freeze|thaw|status`: the in-guest quiesce agent and the hypervisor's client.
// Spec: docs/agent-protocol.md; the README's "snapclone agent" section shows typical use.

import { Command, Option } from 'commander';
import { SnapcloneError } from '../../core/errors.js';
import { parseSeconds } from '../../core/units.js';
import { onShutdown } from '../../io/shutdown.js';
import { AllowList, parseEndpoint } from '../../agent/address.js';
import { loadAgentConfig, type AgentConfig } from '../../agent/agent-config.js';
import type { AgentLogEvent } from '../../agent/agent-log.js';
import { AgentClient, AgentRequestError } from '../../agent/agent-client.js';
import { AgentServer, DEFAULT_MAX_FREEZE_SECONDS } from '../../agent/agent-server.js';
import { describeReport } from '../../agent/freeze-controller.js';
import type { CommandReport, HookCommand } from '../../agent/hook-command.js';
import { loadAuthorizedKeys, loadIdentity, type AuthorizedKey } from '../../agent/keys.js';
import type { AgentReply } from '../../agent/messages.js';
import { TOOL_VERSION } from '../version.js';

interface ServeOptions {
  config?: string;
  listen?: string;
  authorizedKey?: string[];
  allow?: string[];
  freezeCmd?: string;
  thawCmd?: string;
  maxFreeze?: string;
  freezeTimeout?: string;
  thawTimeout?: string;
  hostKey?: string;
  handshakeTimeout?: string;
  idleTimeout?: string;
  maxPending?: string;
  maxSessions?: string;
  name?: string;
  log?: string;
}

interface ClientOptions {
  key: string;
  agentKey?: string;
  bind?: string;
  timeout?: string;
  maxFreeze?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function parseCount(text: string, optionName: string): number {
  const v = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(Number.isInteger(v) && v >= 1 && v <= 1024)) {
    throw new SnapcloneError('USAGE_BAD_NUMBER', `${optionName}: "${text}" is not a whole number from 1 to 1024`, { kind: 'usage' });
  }
  return v;
}

export function registerAgent(program: Command): void {
  const agent = program
    .command('agent')
    .description('the in-guest quiesce agent (serve) and the hypervisor side (freeze, thaw, status)');

  agent
    .command('serve')
    .description('run the agent in the guest: authenticated freeze/thaw of its services, with a watchdog')
    .option('--config <file>', 'JSON configuration file (keys as in docs/agent-protocol.md); flags override it')
    .option('--listen <addr:port>', 'address and port to listen on, e.g. 0.0.0.0:7410 or [::]:7410')
    .option('--authorized-key <file.pub>', 'public key allowed to command the agent (repeatable)', collect)
    .option('--allow <ip|cidr>', 'address or CIDR block allowed to connect (repeatable; default: any)', collect)
    .option('--freeze-cmd <cmd>', 'shell command that stops or flushes the services')
    .option('--thaw-cmd <cmd>', 'shell command that restarts them')
    .option('--max-freeze <seconds>', `no freeze lasts longer: the watchdog thaws (default ${DEFAULT_MAX_FREEZE_SECONDS})`)
    .option('--freeze-timeout <seconds>', 'kill the freeze command after this (default and maximum: --max-freeze)')
    .option('--thaw-timeout <seconds>', 'kill the thaw command after this (default 60)')
    .option('--host-key <file>', "the agent's own private key, so clients can pin it (--agent-key)")
    .option('--handshake-timeout <seconds>', 'time allowed from connection to authentication (default 5)')
    .option('--idle-timeout <seconds>', 'close an authenticated session idle this long (default 60)')
    .option('--max-pending <n>', 'unauthenticated connections kept at once; the oldest is dropped (default 8)')
    .option('--max-sessions <n>', 'authenticated sessions at once (default 4)')
    .option('--name <name>', 'name shown to clients (default: host name)')
    .addOption(new Option('--log <format>', 'log lines on stderr as text or JSON (default text)').choices(['text', 'json']))
    .addHelpText(
      'after',
      '\nExample:\n  snapclone agent serve --listen 0.0.0.0:7410 --authorized-key /etc/snapclone/hypervisor.pub \\\n' +
        "    --allow 192.0.2.1 --freeze-cmd 'systemctl stop postgresql' --thaw-cmd 'systemctl start postgresql'",
    )
    .action(async (opts: ServeOptions) => {
      await runServe(opts);
    });

  const clientCommand = (name: 'freeze' | 'thaw' | 'status', description: string): Command => {
    const c = agent
      .command(name)
      .description(description)
      .argument('<addr:port>', 'the agent, e.g. 192.0.2.10:7410 or [2001:db8::10]:7410')
      .requiredOption('--key <file>', "the hypervisor's private key (from `snapclone keygen`)")
      .option('--agent-key <file.pub|SHA256:...>', "require this agent host key (pin); without it the agent is not authenticated")
      .option('--bind <addr>', 'local address to connect from')
      .option('--timeout <seconds>', 'time limit for each step (default: derived from the agent limits)')
      .option('--json', 'print the agent reply as JSON on stdout');
    if (name === 'freeze') c.option('--max-freeze <seconds>', "a shorter watchdog than the agent's maximum");
    return c;
  };
  clientCommand('freeze', "ask the agent to freeze the guest's services; exit 0 only when it confirms")
    .addHelpText('after', '\nThe freeze outlives this command: thaw it with `snapclone agent thaw`, or the agent\'s watchdog does.')
    .action(async (address: string, opts: ClientOptions) => {
      await runClient('freeze', address, opts);
    });
  clientCommand('thaw', 'ask the agent to thaw the guest (exit 0 also when it was not frozen)').action(async (address: string, opts: ClientOptions) => {
    await runClient('thaw', address, opts);
  });
  clientCommand('status', 'print whether the guest is frozen, since when and until when').action(async (address: string, opts: ClientOptions) => {
    await runClient('status', address, opts);
  });
}

function commandFrom(v: string | string[]): HookCommand {
  return typeof v === 'string' ? { shell: v } : { argv: v };
}

async function runServe(opts: ServeOptions): Promise<void> {
  const file: AgentConfig = opts.config ? await loadAgentConfig(opts.config) : {};
  const listen = opts.listen ?? file.listen;
  const keyFiles = opts.authorizedKey ?? file.authorizedKeys ?? [];
  const freezeCmd = opts.freezeCmd ?? file.freezeCmd;
  const thawCmd = opts.thawCmd ?? file.thawCmd;
  const missing = [
    listen === undefined ? '--listen' : '',
    keyFiles.length === 0 ? '--authorized-key' : '',
    freezeCmd === undefined ? '--freeze-cmd' : '',
    thawCmd === undefined ? '--thaw-cmd' : '',
  ].filter((s) => s !== '');
  if (missing.length > 0) {
    throw new SnapcloneError('USAGE_MISSING_OPTION', `agent serve needs ${missing.join(', ')} (as flags or in --config)`, { kind: 'usage' });
  }
  const logFormat = opts.log ?? file.log ?? 'text';
  const authorizedKeys: AuthorizedKey[] = [];
  for (const f of keyFiles) authorizedKeys.push(...(await loadAuthorizedKeys(f)));
  const hostKeyPath = opts.hostKey ?? file.hostKey;
  const seconds = (flag: string | undefined, flagName: string, fromFile: number | undefined): number | undefined =>
    flag !== undefined ? parseSeconds(flag, flagName) : fromFile;
  const count = (flag: string | undefined, flagName: string, fromFile: number | undefined): number | undefined =>
    flag !== undefined ? parseCount(flag, flagName) : fromFile;
  const maxFreezeSeconds = seconds(opts.maxFreeze, '--max-freeze', file.maxFreezeSeconds) ?? DEFAULT_MAX_FREEZE_SECONDS;
  const freezeTimeoutSeconds = Math.min(seconds(opts.freezeTimeout, '--freeze-timeout', file.freezeTimeoutSeconds) ?? maxFreezeSeconds, maxFreezeSeconds);
  const handshakeTimeout = seconds(opts.handshakeTimeout, '--handshake-timeout', file.handshakeTimeoutSeconds);
  const idleTimeout = seconds(opts.idleTimeout, '--idle-timeout', file.idleTimeoutSeconds);
  const server = await AgentServer.start({
    listen: parseEndpoint(listen!, '--listen', true),
    authorizedKeys,
    allow: new AllowList(opts.allow ?? file.allow ?? []),
    ...(hostKeyPath === undefined ? {} : { hostKey: await loadIdentity(hostKeyPath) }),
    freezeCommand: commandFrom(freezeCmd!),
    thawCommand: commandFrom(thawCmd!),
    maxFreezeSeconds,
    freezeTimeoutSeconds,
    thawTimeoutSeconds: seconds(opts.thawTimeout, '--thaw-timeout', file.thawTimeoutSeconds) ?? 60,
    ...(handshakeTimeout === undefined ? {} : { handshakeTimeoutMs: handshakeTimeout * 1000 }),
    ...(idleTimeout === undefined ? {} : { idleTimeoutMs: idleTimeout * 1000 }),
    maxPendingConnections: count(opts.maxPending, '--max-pending', file.maxPendingConnections),
    maxSessions: count(opts.maxSessions, '--max-sessions', file.maxSessions),
    name: opts.name ?? file.name,
    version: TOOL_VERSION,
    log: logFormat === 'json' ? logJson : logText,
  });
  // SIGTERM (systemctl stop) and SIGINT: thaw first if frozen, then exit.
  onShutdown('stop the agent (thawing the guest if frozen)', () => server.close());
  await new Promise<never>(() => {}); // serve until a signal
}

function logText(e: AgentLogEvent): void {
  process.stderr.write(`${new Date().toISOString()} snapclone-agent ${e.level}: ${e.message}\n`);
}

function logJson(e: AgentLogEvent): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
}

async function runClient(op: 'freeze' | 'thaw' | 'status', address: string, opts: ClientOptions): Promise<void> {
  const endpoint = parseEndpoint(address, 'agent address');
  const identity = await loadIdentity(opts.key);
  let agentKey: AuthorizedKey | string | undefined;
  if (opts.agentKey !== undefined) {
    if (/^SHA256:[A-Za-z0-9+/]{43}$/.test(opts.agentKey)) agentKey = opts.agentKey;
    else {
      const keys = await loadAuthorizedKeys(opts.agentKey);
      if (keys.length !== 1) {
        throw new SnapcloneError('USAGE_AGENT_KEY', '--agent-key: the file must hold exactly one public key', { kind: 'usage', path: opts.agentKey, actual: keys.length });
      }
      agentKey = keys[0];
    }
  }
  const timeoutMs = opts.timeout === undefined ? undefined : parseSeconds(opts.timeout, '--timeout') * 1000;
  const maxFreezeSeconds = opts.maxFreeze === undefined ? undefined : parseSeconds(opts.maxFreeze, '--max-freeze');
  const client = await AgentClient.connect(endpoint, identity, {
    ...(agentKey === undefined ? {} : { agentKey }),
    ...(opts.bind === undefined ? {} : { localAddress: opts.bind }),
    ...(timeoutMs === undefined ? {} : { connectTimeoutMs: timeoutMs, handshakeTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs }),
  });
  try {
    let reply: AgentReply;
    try {
      if (op === 'freeze') {
        // This process exits right after: the freeze must survive the connection (watchdog-bounded).
        reply = await client.freeze({ thawOnDisconnect: false, ...(maxFreezeSeconds === undefined ? {} : { maxFreezeSeconds }) });
      } else if (op === 'thaw') reply = await client.thaw();
      else reply = await client.status();
    } catch (e) {
      if (e instanceof AgentRequestError) printReply(e.reply, client, opts);
      throw e;
    }
    printReply(reply, client, opts);
  } finally {
    await client.close();
  }
}

function printReply(reply: AgentReply, client: AgentClient, opts: ClientOptions): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ...reply, agent: client.agent, agentHostKey: client.agentHostKey ?? null, agentHostKeyPinned: opts.agentKey !== undefined })}\n`);
    return;
  }
  const lines: string[] = [];
  const a = client.agent;
  const hostKey = client.agentHostKey === undefined ? 'no host key' : `host key ${client.agentHostKey}${opts.agentKey ? ' (pinned)' : ' (not pinned)'}`;
  lines.push(`agent: ${a.name} (snapclone ${a.version}) at ${client.endpoint.host}:${client.endpoint.port}, ${hostKey}`);
  lines.push(`${reply.op}: ${reply.message}`);
  if (reply.freezeCommand) lines.push(...commandLines('freeze command', reply.freezeCommand));
  if (reply.thawCommand) lines.push(...commandLines('thaw command', reply.thawCommand));
  if (reply.state === 'frozen') {
    const deadlineMs = reply.deadline ? Date.parse(reply.deadline) - Date.now() : Number.NaN;
    lines.push(`state: frozen since ${reply.frozenAt ?? '?'} (for ${((reply.frozenForMs ?? 0) / 1000).toFixed(1)} s)`);
    lines.push(`watchdog deadline: ${reply.deadline ?? '?'} (in ${Number.isFinite(deadlineMs) ? (deadlineMs / 1000).toFixed(1) : '?'} s); max freeze ${a.maxFreezeSeconds} s`);
    lines.push(`frozen by ${reply.frozenBy ?? '?'}; thaw on disconnect: ${reply.thawOnDisconnect ? 'yes' : 'no'}`);
  } else {
    lines.push('state: thawed');
  }
  if (reply.lastThaw && reply.op === 'status') {
    const t = reply.lastThaw;
    lines.push(`last thaw: ${t.at} (${t.reason}, by ${t.by}) after ${(t.frozenForMs / 1000).toFixed(1)} s frozen; thaw command ${describeReport(t.command)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function commandLines(label: string, r: CommandReport): string[] {
  const out = [`${label}: ${describeReport(r)} in ${r.durationMs} ms${r.outputBytes > 0 ? `, ${r.outputBytes} bytes of output` : ''}`];
  const tail = r.outputTail.replace(/\n$/, '');
  if (tail !== '') {
    if (r.outputBytes > Buffer.byteLength(r.outputTail)) out.push('  | ...');
    for (const l of tail.split('\n')) out.push(`  | ${l}`);
  }
  return out;
}
