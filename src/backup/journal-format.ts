// The resource journal's format (pure): one JSON object per line. A run writes "begin", then for each
// resource an "intent" line BEFORE creating it, "created" after, and "removed" once it is gone; "end"
// when it finishes. A line cut short by a crash (SIGKILL mid-append) is ignored with a warning.
// Spec: prompts "A journal of every resource created".

import { SnapcloneError, type Warning } from '../core/errors.js';
import { lvNameProblem, vgNameProblem } from '../lvm/lvm-names.js';
import { parseOwner, type ProcessOwner } from './process-owner.js';

export const JOURNAL_VERSION = 1;

/** What a run may leave behind. */
export type Resource =
  /** An LVM snapshot: VG/name, of origin LV `origin` in the same VG. */
  | { type: 'snapshot'; vg: string; name: string; origin: string }
  /** A device-mapper device (a partition map) by name. */
  | { type: 'mapping'; name: string }
  /** A temporary directory (an unfinished backup set), removed with its contents. */
  | { type: 'temp-dir'; path: string };

export type JournalEntry =
  | { op: 'begin'; version: number; runId: string; owner: ProcessOwner; command: string; source: string; time: string }
  | { op: 'intent'; id: number; resource: Resource; time: string }
  | { op: 'created'; id: number; uuid?: string; time: string }
  | { op: 'removed'; id: number; time: string }
  | { op: 'end'; time: string };

export type ResourceState = 'intended' | 'created' | 'removed';

export interface JournalResource {
  id: number;
  resource: Resource;
  state: ResourceState;
  /** The LV UUID learned after creating a snapshot: removal then checks it is the same LV. */
  uuid?: string;
}

export interface ParsedJournal {
  begin: Extract<JournalEntry, { op: 'begin' }>;
  /** In the order they were intended. */
  resources: JournalResource[];
  ended: boolean;
  warnings: Warning[];
}

/**
 * Temporary directories a journal may name end like the ones createAtomicFile/temporaryNameFor make
 * (".NAME.snapclone-PID-HEX.tmp"), so that a damaged journal can never make cleanup delete a real
 * directory.
 */
export const TEMPORARY_NAME = /^\..+\.snapclone-\d+-[0-9a-f]+\.tmp$/;

export function serializeEntry(entry: JournalEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

export function parseJournal(text: string, fileName: string): ParsedJournal {
  const warnings: Warning[] = [];
  const lines = text.split('\n');
  // Everything after the last newline is a line the writer did not finish.
  const torn = lines.pop() ?? '';
  if (torn !== '') {
    warnings.push({ code: 'SET_JOURNAL_TORN_LINE', message: `${fileName}: ignored an unfinished last line (${torn.length} bytes)`, byteOffset: text.length - torn.length });
  }
  let begin: ParsedJournal['begin'] | undefined;
  const byId = new Map<number, JournalResource>();
  let ended = false;
  let byteOffset = 0;
  for (const [index, line] of lines.entries()) {
    const lineOffset = byteOffset;
    byteOffset += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    const entry = parseEntry(line);
    if (typeof entry === 'string') {
      if (index === 0) throw corrupt(fileName, lineOffset, 'a "begin" line first', entry);
      warnings.push({ code: 'SET_JOURNAL_BAD_LINE', message: `${fileName} line ${index + 1}: ${entry}; ignored`, byteOffset: lineOffset });
      continue;
    }
    if (index === 0 && entry.op !== 'begin') throw corrupt(fileName, lineOffset, 'a "begin" line first', entry.op);
    switch (entry.op) {
      case 'begin':
        if (begin) warnings.push({ code: 'SET_JOURNAL_BAD_LINE', message: `${fileName} line ${index + 1}: a second "begin"; ignored`, byteOffset: lineOffset });
        else begin = entry;
        break;
      case 'intent':
        if (byId.has(entry.id)) warnings.push({ code: 'SET_JOURNAL_BAD_LINE', message: `${fileName} line ${index + 1}: resource ${entry.id} intended twice`, byteOffset: lineOffset });
        else byId.set(entry.id, { id: entry.id, resource: entry.resource, state: 'intended' });
        break;
      case 'created': {
        const r = byId.get(entry.id);
        if (!r) warnings.push({ code: 'SET_JOURNAL_BAD_LINE', message: `${fileName} line ${index + 1}: "created" for unknown resource ${entry.id}`, byteOffset: lineOffset });
        else {
          if (r.state === 'intended') r.state = 'created';
          if (entry.uuid !== undefined) r.uuid = entry.uuid;
        }
        break;
      }
      case 'removed': {
        const r = byId.get(entry.id);
        if (!r) warnings.push({ code: 'SET_JOURNAL_BAD_LINE', message: `${fileName} line ${index + 1}: "removed" for unknown resource ${entry.id}`, byteOffset: lineOffset });
        else r.state = 'removed';
        break;
      }
      case 'end':
        ended = true;
        break;
    }
  }
  if (!begin) throw corrupt(fileName, 0, 'a "begin" line', 'none');
  return { begin, resources: [...byId.values()], ended, warnings };
}

/** The resources still to remove: everything intended and not marked removed. */
export function pendingResources(journal: ParsedJournal): JournalResource[] {
  return journal.resources.filter((r) => r.state !== 'removed');
}

function corrupt(fileName: string, byteOffset: number, expected: string, actual: string): SnapcloneError {
  return new SnapcloneError('SET_JOURNAL_CORRUPT', `journal ${fileName} cannot be read`, { kind: 'input', path: fileName, byteOffset, expected, actual });
}

/** One line to an entry, or a string saying what is wrong with it. */
function parseEntry(line: string): JournalEntry | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (v === null || typeof v !== 'object') return 'not an object';
  const o = v as Record<string, unknown>;
  const time = o['time'];
  if (typeof time !== 'string') return 'no time';
  const id = o['id'];
  const validId = Number.isSafeInteger(id) && (id as number) >= 0;
  switch (o['op']) {
    case 'begin': {
      const owner = parseOwner(o['owner']);
      if (o['version'] !== JOURNAL_VERSION) return `journal version ${String(o['version'])}, this snapclone reads ${JOURNAL_VERSION}`;
      if (!owner || typeof o['runId'] !== 'string' || typeof o['command'] !== 'string' || typeof o['source'] !== 'string') return 'an incomplete "begin"';
      return { op: 'begin', version: JOURNAL_VERSION, runId: o['runId'], owner, command: o['command'], source: o['source'], time };
    }
    case 'intent': {
      if (!validId) return 'an "intent" without a valid id';
      const resource = parseResource(o['resource']);
      if (typeof resource === 'string') return resource;
      return { op: 'intent', id: id as number, resource, time };
    }
    case 'created': {
      if (!validId) return 'a "created" without a valid id';
      const uuid = o['uuid'];
      if (uuid !== undefined && (typeof uuid !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(uuid))) return 'a "created" with a bad uuid';
      return uuid === undefined ? { op: 'created', id: id as number, time } : { op: 'created', id: id as number, uuid, time };
    }
    case 'removed':
      if (!validId) return 'a "removed" without a valid id';
      return { op: 'removed', id: id as number, time };
    case 'end':
      return { op: 'end', time };
    default:
      return `unknown op ${JSON.stringify(o['op'])}`;
  }
}

function parseResource(value: unknown): Resource | string {
  if (value === null || typeof value !== 'object') return 'an "intent" without a resource';
  const r = value as Record<string, unknown>;
  switch (r['type']) {
    case 'snapshot': {
      const { vg, name, origin } = r;
      if (typeof vg !== 'string' || typeof name !== 'string' || typeof origin !== 'string') return 'an incomplete snapshot resource';
      if (vgNameProblem(vg) || lvNameProblem(name) || lvNameProblem(origin)) return `a snapshot resource with invalid LVM names ${vg}/${name}`;
      return { type: 'snapshot', vg, name, origin };
    }
    case 'mapping': {
      const { name } = r;
      if (typeof name !== 'string' || name === '' || name.includes('/') || name.length > 127) return 'a mapping resource without a valid name';
      return { type: 'mapping', name };
    }
    case 'temp-dir': {
      const { path } = r;
      if (typeof path !== 'string' || !path.startsWith('/')) return 'a temp-dir resource without an absolute path';
      const base = path.split('/').pop() ?? '';
      if (!TEMPORARY_NAME.test(base) || path.split('/').includes('..')) return `a temp-dir resource whose name is not a snapclone temporary: ${path}`;
      return { type: 'temp-dir', path };
    }
    default:
      return `unknown resource type ${JSON.stringify(r['type'])}`;
  }
}

/** What a resource is called in reports: "vg0/snapclone-web-...", a device-mapper name, a path. */
export function resourceTarget(resource: Resource): string {
  switch (resource.type) {
    case 'snapshot':
      return `${resource.vg}/${resource.name}`;
    case 'mapping':
      return resource.name;
    case 'temp-dir':
      return resource.path;
  }
}

/** "snapshot vg0/snapclone-web-20261126T103555Z", "mapping /dev/mapper/x", "unfinished set /srv/...". */
export function describeResource(resource: Resource): string {
  switch (resource.type) {
    case 'snapshot':
      return `snapshot ${resource.vg}/${resource.name}`;
    case 'mapping':
      return `mapping /dev/mapper/${resource.name}`;
    case 'temp-dir':
      return `unfinished set ${resource.path}`;
  }
}
