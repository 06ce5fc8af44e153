// Backup set directory names: LABEL-YYYYMMDDTHHMMSSZ (UTC, so names sort by time), and the hidden
// temporary name a set is built under before it is renamed into place. Temporaries are named as every
// snapclone temporary is (".NAME.snapclone-PID-HEX.tmp", src/io/atomic-file.ts), so that the resource
// journal accepts them and `snapclone cleanup` may remove them.

import { randomBytes } from 'node:crypto';
import { SnapcloneError } from '../core/errors.js';

const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;
const SET_NAME_PATTERN = /^([A-Za-z0-9][A-Za-z0-9_.+-]{0,63})-(\d{8}T\d{6}Z)$/;
const TEMPORARY_SET_NAME = /^\.(.+)\.snapclone-(\d+)-[0-9a-f]+\.tmp$/;

export function validateLabel(label: string): string {
  if (!LABEL_PATTERN.test(label)) {
    throw new SnapcloneError('USAGE_BAD_LABEL', `--name "${label}" is not a usable set label`, {
      kind: 'usage',
      expected: '1-64 characters from A-Z a-z 0-9 _ . + -, starting with a letter or digit',
    });
  }
  return label;
}

/** "20261126T102615Z" for 2026-11-26 10:26:15 UTC. */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function parseUtcStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function setName(label: string, date: Date): string {
  return `${validateLabel(label)}-${utcStamp(date)}`;
}

export interface ParsedSetName {
  label: string;
  stamp: string;
  date: Date;
}

/** Parses a final set directory name; undefined for anything else (temporaries, stray files). */
export function parseSetName(name: string): ParsedSetName | undefined {
  const m = SET_NAME_PATTERN.exec(name);
  if (!m) return undefined;
  const date = parseUtcStamp(m[2]!);
  return date ? { label: m[1]!, stamp: m[2]!, date } : undefined;
}

/** The hidden name a set is built (or deleted) under: ".LABEL-STAMP.snapclone-PID-HEX.tmp". */
export function temporarySetName(finalName: string, pid: number): string {
  return `.${finalName}.snapclone-${pid}-${randomBytes(3).toString('hex')}.tmp`;
}

/** Parses a temporary set name back to its final name and the pid that was building it. */
export function parseTemporarySetName(name: string): { finalName: string; pid: number } | undefined {
  const m = TEMPORARY_SET_NAME.exec(name);
  if (!m) return undefined;
  const pid = Number(m[2]);
  const finalName = m[1]!;
  return Number.isSafeInteger(pid) && pid > 0 && parseSetName(finalName) ? { finalName, pid } : undefined;
}
