// Parses `dmsetup info -c --noheadings --nameprefixes -o name,uuid,open,major,minor` (pure).
// Each line is KEY='value' pairs joined by ':', e.g. DM_NAME='vg-lv':DM_UUID='LVM-...':DM_OPEN='0'...
// Spec: dmsetup(8), "info -c" and --nameprefixes. With no devices it prints "No devices found".

import { SnapcloneError } from '../core/errors.js';

export const DMSETUP_INFO_ARGS = ['info', '-c', '--noheadings', '--nameprefixes', '-o', 'name,uuid,open,major,minor'];

export interface DmDevice {
  name: string;
  /** Empty when the device has none (plain `dmsetup create` without -u). */
  uuid: string;
  /** How many holders keep it open (mounts, readers, devices stacked on it). */
  openCount: number;
  major: number;
  minor: number;
}

const NO_DEVICES = 'No devices found';

export function parseDmsetupInfo(text: string): DmDevice[] {
  const devices: DmDevice[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line === NO_DEVICES) continue;
    const fields = parsePrefixedLine(line, i + 1);
    const name = fields.get('DM_NAME');
    const uuid = fields.get('DM_UUID');
    if (name === undefined || name === '' || uuid === undefined) bad(i + 1, 'DM_NAME and DM_UUID fields', line);
    devices.push({
      name,
      uuid,
      openCount: counter(fields, 'DM_OPEN', i + 1, line),
      major: counter(fields, 'DM_MAJOR', i + 1, line),
      minor: counter(fields, 'DM_MINOR', i + 1, line),
    });
  }
  return devices;
}

/** KEY='value' pairs separated by ':'; inside a value, a backslash escapes the next character. */
function parsePrefixedLine(line: string, lineNumber: number): Map<string, string> {
  const fields = new Map<string, string>();
  let i = 0;
  while (i < line.length) {
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== "'") bad(lineNumber, "KEY='value'", line);
    const key = line.slice(i, eq);
    if (!/^DM_[A-Z_]+$/.test(key)) bad(lineNumber, 'a DM_ field name', key);
    let value = '';
    let j = eq + 2;
    for (;;) {
      if (j >= line.length) bad(lineNumber, 'a closing quote', line);
      const c = line[j]!;
      if (c === '\\' && j + 1 < line.length) {
        value += line[j + 1];
        j += 2;
      } else if (c === "'") {
        j++;
        break;
      } else {
        value += c;
        j++;
      }
    }
    fields.set(key, value);
    if (j < line.length && line[j] !== ':') bad(lineNumber, "':' between fields", line);
    i = j + 1;
  }
  return fields;
}

function counter(fields: Map<string, string>, key: string, lineNumber: number, line: string): number {
  const v = fields.get(key);
  const n = v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n)) bad(lineNumber, `a number in ${key}`, line);
  return n;
}

function bad(lineNumber: number, expected: string, actual: string): never {
  throw new SnapcloneError('LVM_BAD_REPORT', `dmsetup info line ${lineNumber} is not what snapclone expects`, {
    kind: 'external',
    expected,
    actual: actual.length > 160 ? `${actual.slice(0, 160)}...` : actual,
  });
}
