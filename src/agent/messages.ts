// The agent protocol's commands and replies: JSON objects carried inside sealed messages, with the
// checks applied to what arrives. Spec: docs/agent-protocol.md, "Commands and replies".

import { SnapcloneError } from '../core/errors.js';
import type { CommandReport } from './hook-command.js';

export type AgentRequest =
  | { op: 'freeze'; thawOnDisconnect: boolean; maxFreezeSeconds?: number }
  | { op: 'thaw' }
  | { op: 'status' };

export type FreezeState = 'thawed' | 'frozen';

/** Why the agent ran its thaw command. */
export type ThawReason = 'client' | 'watchdog' | 'disconnect' | 'shutdown' | 'freeze-failed';

export type ReplyCode =
  | 'WELCOME'
  | 'FROZEN'
  | 'ALREADY_FROZEN'
  | 'FREEZE_FAILED'
  | 'THAWED'
  | 'NOT_FROZEN'
  | 'THAW_FAILED'
  | 'STATUS'
  | 'BAD_REQUEST';

export interface LastThaw {
  at: string;
  reason: ThawReason;
  /** The key fingerprint that asked, or "agent" for the watchdog and shutdown. */
  by: string;
  frozenForMs: number;
  command: CommandReport;
}

export interface AgentReply {
  op: 'welcome' | 'freeze' | 'thaw' | 'status' | 'error';
  ok: boolean;
  code: ReplyCode;
  message: string;
  state: FreezeState;
  /** welcome only */
  agent?: { name: string; version: string; maxFreezeSeconds: number; freezeTimeoutSeconds: number; thawTimeoutSeconds: number };
  /** When frozen: when the freeze command started, for how long, when the watchdog thaws. */
  frozenAt?: string;
  frozenForMs?: number;
  deadline?: string;
  thawOnDisconnect?: boolean;
  frozenBy?: string;
  freezeCommand?: CommandReport;
  thawCommand?: CommandReport;
  lastThaw?: LastThaw;
}

// Requests are tiny; the agent refuses larger frames before reading them.
export const MAX_REQUEST_FRAME_BYTES = 1024;
// Replies carry two command output tails (2 KiB each, at most 6x larger once JSON-escaped).
export const MAX_REPLY_FRAME_BYTES = 64 * 1024;

const MAX_REQUESTED_FREEZE_SECONDS = 24 * 3600;

function badRequest(message: string, actual?: unknown): SnapcloneError {
  return new SnapcloneError('AGENT_BAD_REQUEST', message, { kind: 'auth', actual });
}

export function encodeJson(value: AgentRequest | AgentReply): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function parseObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new SnapcloneError('AGENT_BAD_REQUEST', `${what} is not valid JSON`, { kind: 'auth', cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

export function decodeRequest(bytes: Uint8Array): AgentRequest {
  const o = parseObject(bytes, 'request');
  switch (o['op']) {
    case 'freeze': {
      const thawOnDisconnect = o['thawOnDisconnect'];
      if (typeof thawOnDisconnect !== 'boolean') throw badRequest('freeze: thawOnDisconnect must be true or false', thawOnDisconnect);
      const max = o['maxFreezeSeconds'];
      if (max === undefined) return { op: 'freeze', thawOnDisconnect };
      if (typeof max !== 'number' || !Number.isFinite(max) || max <= 0 || max > MAX_REQUESTED_FREEZE_SECONDS) {
        throw badRequest('freeze: maxFreezeSeconds must be a positive number of seconds', max);
      }
      return { op: 'freeze', thawOnDisconnect, maxFreezeSeconds: max };
    }
    case 'thaw':
      return { op: 'thaw' };
    case 'status':
      return { op: 'status' };
    default:
      throw badRequest('unknown op', o['op']);
  }
}

/** Checks the fields the client relies on; the rest is informative and passed through. */
export function decodeReply(bytes: Uint8Array): AgentReply {
  const o = parseObject(bytes, 'reply');
  const ops = ['welcome', 'freeze', 'thaw', 'status', 'error'];
  if (!ops.includes(o['op'] as string) || typeof o['ok'] !== 'boolean' || typeof o['code'] !== 'string') {
    throw new SnapcloneError('AGENT_PROTOCOL', 'malformed reply from the agent', { kind: 'auth', actual: { op: o['op'], ok: o['ok'], code: o['code'] } });
  }
  if (o['state'] !== 'thawed' && o['state'] !== 'frozen') {
    throw new SnapcloneError('AGENT_PROTOCOL', 'malformed reply from the agent: state', { kind: 'auth', actual: o['state'] });
  }
  if (typeof o['message'] !== 'string') o['message'] = '';
  return o as unknown as AgentReply;
}
