// The agent's configuration file (`snapclone agent serve --config FILE`): a JSON object whose keys
// mirror the command-line flags. Unknown keys are refused (a typo must not silently drop a setting);
// relative paths are relative to the file. Spec: docs/agent-protocol.md, "Configuration".

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SnapcloneError } from '../core/errors.js';
import { ioError } from '../io/source-file.js';

export interface AgentConfig {
  listen?: string;
  authorizedKeys?: string[];
  allow?: string[];
  /** A shell command line, or an argv array run without a shell. */
  freezeCmd?: string | string[];
  thawCmd?: string | string[];
  maxFreezeSeconds?: number;
  freezeTimeoutSeconds?: number;
  thawTimeoutSeconds?: number;
  hostKey?: string;
  handshakeTimeoutSeconds?: number;
  idleTimeoutSeconds?: number;
  maxPendingConnections?: number;
  maxSessions?: number;
  name?: string;
  log?: 'text' | 'json';
}

type FieldKind = 'string' | 'strings' | 'command' | 'seconds' | 'count' | 'path' | 'paths' | 'log';

const FIELDS: Record<keyof AgentConfig, FieldKind> = {
  listen: 'string',
  authorizedKeys: 'paths',
  allow: 'strings',
  freezeCmd: 'command',
  thawCmd: 'command',
  maxFreezeSeconds: 'seconds',
  freezeTimeoutSeconds: 'seconds',
  thawTimeoutSeconds: 'seconds',
  hostKey: 'path',
  handshakeTimeoutSeconds: 'seconds',
  idleTimeoutSeconds: 'seconds',
  maxPendingConnections: 'count',
  maxSessions: 'count',
  name: 'string',
  log: 'log',
};

const MAX_CONFIG_BYTES = 256 * 1024;

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw ioError(e, path, 'read the configuration file');
  }
  if (text.length > MAX_CONFIG_BYTES) {
    throw configError('the file is too large to be a configuration', path, undefined, `at most ${MAX_CONFIG_BYTES} bytes`, text.length);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SnapcloneError('AGENT_CONFIG', `not valid JSON: ${(e as Error).message}`, { kind: 'usage', path, cause: e });
  }
  return parseAgentConfig(value, path);
}

export function parseAgentConfig(value: unknown, path: string): AgentConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError('the configuration must be a JSON object', path);
  }
  const base = dirname(resolve(path));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const kind = FIELDS[key as keyof AgentConfig];
    if (kind === undefined) throw configError(`unknown key "${key}"`, path, key, Object.keys(FIELDS).join(', '));
    out[key] = checkField(key, kind, v, path, base);
  }
  return out as AgentConfig;
}

function checkField(key: string, kind: FieldKind, v: unknown, path: string, base: string): unknown {
  const isStrings = Array.isArray(v) && v.every((s) => typeof s === 'string');
  switch (kind) {
    case 'string':
      if (typeof v === 'string') return v;
      break;
    case 'path':
      if (typeof v === 'string') return resolve(base, v);
      break;
    case 'strings':
      if (isStrings) return v;
      if (typeof v === 'string') return [v];
      break;
    case 'paths':
      if (isStrings) return (v as string[]).map((p) => resolve(base, p));
      if (typeof v === 'string') return [resolve(base, v)];
      break;
    case 'command':
      if (typeof v === 'string' && v.trim() !== '') return v;
      if (isStrings && (v as string[]).length > 0) return v;
      break;
    case 'seconds':
      if (typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 86_400) return v;
      break;
    case 'count':
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1024) return v;
      break;
    case 'log':
      if (v === 'text' || v === 'json') return v;
      break;
  }
  const expected: Record<FieldKind, string> = {
    string: 'a string',
    path: 'a file path',
    strings: 'an array of strings',
    paths: 'an array of file paths',
    command: 'a command line, or a non-empty array of arguments',
    seconds: 'a number of seconds from 0 to 86400',
    count: 'a whole number from 1 to 1024',
    log: '"text" or "json"',
  };
  throw configError(`"${key}" has the wrong type`, path, key, expected[kind], v);
}

function configError(message: string, path: string, key?: string, expected?: unknown, actual?: unknown): SnapcloneError {
  return new SnapcloneError('AGENT_CONFIG', key === undefined ? message : `${message}`, { kind: 'usage', path, expected, actual });
}
