// Parses the JSON reports of `lvs`/`vgs --reportformat json --units b --nosuffix -o ...` (pure).
// Format: lvmreport(7); fields and lv_attr letters: lvs(8). Every value arrives as a string.

import { SnapcloneError } from '../core/errors.js';

/** The lvs fields parseLvReport reads; request them with `-o LV_FIELDS.join(',')`. */
export const LV_FIELDS = [
  'lv_name',
  'vg_name',
  'lv_size',
  'lv_attr',
  'origin',
  'snap_percent',
  'lv_tags',
  'lv_path',
  'lv_dm_path',
  'lv_uuid',
  'vg_uuid',
  'lv_time',
] as const;

/** The vgs fields parseVgReport reads. */
export const VG_FIELDS = ['vg_name', 'vg_size', 'vg_free', 'vg_extent_size', 'vg_free_count', 'vg_uuid'] as const;

export interface LvInfo {
  name: string;
  vgName: string;
  sizeBytes: number;
  /** The 10-letter lv_attr, e.g. "swi-a-s---". */
  attr: string;
  /** The origin LV's name for a snapshot, else undefined. */
  origin: string | undefined;
  /** How full a snapshot's copy-on-write area is, 0..100; undefined for other LVs or when inactive. */
  snapPercent: number | undefined;
  tags: string[];
  /** /dev/VG/LV (empty for hidden LVs). */
  path: string;
  /** /dev/mapper/VG-LV with hyphens doubled. */
  dmPath: string;
  uuid: string;
  vgUuid: string;
  /** "2026-11-26 10:35:55 +0000" as lvs prints it. */
  createdAt: string;
  /** lv_attr letter 1 is (s)napshot or merging (S)napshot. */
  isSnapshot: boolean;
  /** lv_attr letter 5 is (I)nvalid snapshot or invalid (S)uspended snapshot: it overflowed. */
  isInvalidSnapshot: boolean;
  /** lv_attr letter 5 shows a mapped device (anything but '-'). */
  isActive: boolean;
  /** lv_attr letter 6 is 'o': something holds the device open (a mount, a kpartx map, a reader). */
  isOpen: boolean;
}

export interface VgInfo {
  name: string;
  sizeBytes: number;
  freeBytes: number;
  extentSizeBytes: number;
  freeExtents: number;
  uuid: string;
}

type Row = Record<string, unknown>;

/** Parses `lvs` JSON output; `text` may hold the report of a command that exited 5 (some names missing). */
export function parseLvReport(text: string): LvInfo[] {
  return reportRows(text, 'lv').map((row, i) => {
    const where = `lvs report row ${i}`;
    const attr = field(row, 'lv_attr', where);
    if (!/^[-a-zA-Z]{10}$/.test(attr)) bad(where, 'lv_attr', 'ten attribute letters', attr);
    const snapText = field(row, 'snap_percent', where);
    const originText = field(row, 'origin', where);
    const tagsText = field(row, 'lv_tags', where);
    const type = attr[0];
    const state = attr[4];
    return {
      name: lvmName(row, 'lv_name', where),
      vgName: lvmName(row, 'vg_name', where),
      sizeBytes: byteCount(row, 'lv_size', where),
      attr,
      origin: originText === '' ? undefined : originText,
      snapPercent: snapText === '' ? undefined : percent(snapText, 'snap_percent', where),
      tags: tagsText === '' ? [] : tagsText.split(','),
      path: field(row, 'lv_path', where),
      dmPath: field(row, 'lv_dm_path', where),
      uuid: field(row, 'lv_uuid', where),
      vgUuid: field(row, 'vg_uuid', where),
      createdAt: field(row, 'lv_time', where),
      isSnapshot: type === 's' || type === 'S',
      isInvalidSnapshot: state === 'I' || state === 'S',
      isActive: state !== '-',
      isOpen: attr[5] === 'o',
    };
  });
}

/** Parses `vgs` JSON output. */
export function parseVgReport(text: string): VgInfo[] {
  return reportRows(text, 'vg').map((row, i) => {
    const where = `vgs report row ${i}`;
    const extentSizeBytes = byteCount(row, 'vg_extent_size', where);
    if (extentSizeBytes === 0) bad(where, 'vg_extent_size', 'a positive size', '0');
    return {
      name: lvmName(row, 'vg_name', where),
      sizeBytes: byteCount(row, 'vg_size', where),
      freeBytes: byteCount(row, 'vg_free', where),
      extentSizeBytes,
      freeExtents: byteCount(row, 'vg_free_count', where),
      uuid: field(row, 'vg_uuid', where),
    };
  });
}

/** The rows under `key` ("lv" or "vg") in every element of "report". */
function reportRows(text: string, key: 'lv' | 'vg'): Row[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SnapcloneError('LVM_BAD_REPORT', `the ${key}s report is not JSON: ${(e as Error).message}`, {
      kind: 'external',
      expected: 'the output of --reportformat json',
      actual: excerpt(text),
      hint: 'snapclone needs LVM 2.02.158 or later (JSON reports)',
    });
  }
  const report = (doc as { report?: unknown } | null)?.report;
  if (!Array.isArray(report)) {
    throw new SnapcloneError('LVM_BAD_REPORT', `the ${key}s report has no "report" array`, {
      kind: 'external',
      expected: '{"report": [...]}',
      actual: excerpt(text),
    });
  }
  const rows: Row[] = [];
  for (const section of report) {
    const list = (section as Record<string, unknown> | null)?.[key];
    if (list === undefined) continue; // a "log" section, when the command log is reported too
    if (!Array.isArray(list)) bad(`${key}s report`, key, 'an array of rows', JSON.stringify(list));
    for (const row of list) {
      if (row === null || typeof row !== 'object' || Array.isArray(row)) bad(`${key}s report`, key, 'an object per row', JSON.stringify(row));
      rows.push(row as Row);
    }
  }
  return rows;
}

/** The device-mapper UUID LVM gives an LV's top device: "LVM-" + VG UUID + LV UUID, without dashes. */
export function lvDmUuid(lv: Pick<LvInfo, 'uuid' | 'vgUuid'>): string {
  return `LVM-${lv.vgUuid.replace(/-/g, '')}${lv.uuid.replace(/-/g, '')}`;
}

function field(row: Row, name: string, where: string): string {
  const v = row[name];
  if (typeof v !== 'string') bad(where, name, 'a string field', v === undefined ? 'no such field' : JSON.stringify(v));
  return v;
}

/** VG and LV names: LVM's charset, so they are safe to put in a command line and a file name. */
function lvmName(row: Row, name: string, where: string): string {
  const v = field(row, name, where);
  if (!/^[A-Za-z0-9+_.-]{1,127}$/.test(v)) bad(where, name, 'an LVM name ([A-Za-z0-9+_.-], 1 to 127 characters)', v);
  return v;
}

/** Sizes in bytes (--units b --nosuffix): a plain decimal integer within 2^53. */
function byteCount(row: Row, name: string, where: string): number {
  const v = field(row, name, where);
  const n = /^\d{1,16}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n)) bad(where, name, 'a byte count (run lvs with --units b --nosuffix)', v);
  return n;
}

function percent(text: string, name: string, where: string): number {
  const n = /^\d{1,3}(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 0 && n <= 100)) bad(where, name, 'a percentage from 0 to 100', text);
  return n;
}

function bad(where: string, name: string, expected: string, actual: string): never {
  throw new SnapcloneError('LVM_BAD_REPORT', `${where}: unexpected ${name}`, { kind: 'external', expected, actual });
}

function excerpt(text: string): string {
  const t = text.trim();
  return t.length > 120 ? `${t.slice(0, 120)}...` : t;
}
