// The saved-layout file: one versioned JSON document holding the partition list (for people and for
// the restore planner) and every raw sector needed to replay the disk (MBR, EBRs, GPT headers and
// entries, boot area), base64-encoded by runs of non-zero sectors with a CRC-32 per region.
// Loading validates every field, the CRCs, and that the sectors parse back to the listed partitions.

import { SnapcloneError, type Warning } from '../core/errors.js';
import { crc32Ieee } from '../core/crc32-ieee.js';
import { isAllZero } from '../core/bytes.js';
import { isGuidText } from './guid.js';
import { isSectorSize, type DiskLayout, type GptInfo, type LayoutRegion, type Partition, type RegionRole } from './layout.js';
import { readLayout } from './read-layout.js';
import { RegionDisk } from './region-disk.js';

export const SAVED_LAYOUT_FORMAT = 'snapclone-layout';
export const SAVED_LAYOUT_VERSION = 1;
/** A saved layout is at most a few MiB (32 MiB of boot area, base64); refuse to parse anything much larger. */
export const MAX_SAVED_LAYOUT_BYTES = 64 * 1024 * 1024;
/** The decoded sectors of all regions together. */
const MAX_REGION_BYTES_TOTAL = 48 * 1024 * 1024;

const REGION_ROLES: readonly RegionRole[] = [
  'mbr',
  'ebr',
  'gpt-primary-header',
  'gpt-primary-entries',
  'gpt-backup-entries',
  'gpt-backup-header',
  'boot-area',
];

interface SavedPartition {
  number: number;
  kind: Partition['kind'];
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
  name?: string;
  uuid?: string;
  attrs?: string;
  attributes?: string;
}

interface SavedRegion {
  role: RegionRole;
  lba: number;
  sectorCount: number;
  crc32: string;
  synthesized?: boolean;
  /** Runs of sectors that are not all zero; every other sector of the region is zero. */
  runs: { lba: number; data: string }[];
}

interface SavedLayoutDocument {
  format: typeof SAVED_LAYOUT_FORMAT;
  version: number;
  label: DiskLayout['label'];
  sectorSize: number;
  diskSizeBytes: number;
  id: string;
  partitions: SavedPartition[];
  gpt?: GptInfo;
  warnings: { code: string; message: string }[];
  regions: SavedRegion[];
}

/** Serializes a layout read by readLayout() (with its regions) as the saved-layout JSON. */
export function encodeSavedLayout(layout: DiskLayout, extra: { createdBy?: string; source?: string } = {}): Uint8Array {
  const doc: SavedLayoutDocument & { createdBy?: string; source?: string } = {
    format: SAVED_LAYOUT_FORMAT,
    version: SAVED_LAYOUT_VERSION,
    ...(extra.createdBy ? { createdBy: extra.createdBy } : {}),
    ...(extra.source ? { source: extra.source } : {}),
    label: layout.label,
    sectorSize: layout.sectorSize,
    diskSizeBytes: layout.diskSizeBytes,
    id: layout.id,
    partitions: layout.partitions.map(savedPartition),
    ...(layout.gpt ? { gpt: layout.gpt } : {}),
    warnings: layout.warnings.map((w) => ({ code: w.code, message: w.message })),
    regions: layout.regions.map((r) => savedRegion(r, layout.sectorSize)),
  };
  return new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`);
}

function savedPartition(p: Partition): SavedPartition {
  const s: SavedPartition = { number: p.number, kind: p.kind, start: p.startLba, size: p.sectorCount, type: p.type };
  if (p.bootable) s.bootable = true;
  if (p.name !== undefined) s.name = p.name;
  if (p.uuid !== undefined) s.uuid = p.uuid;
  if (p.attrs !== undefined) s.attrs = p.attrs;
  if (p.attributes !== undefined) s.attributes = p.attributes;
  return s;
}

function savedRegion(r: LayoutRegion, sectorSize: number): SavedRegion {
  const sectorCount = r.bytes.byteLength / sectorSize;
  const runs: SavedRegion['runs'] = [];
  let runStart = -1;
  const flush = (end: number): void => {
    if (runStart < 0) return;
    runs.push({ lba: r.lba + runStart, data: Buffer.from(r.bytes.subarray(runStart * sectorSize, end * sectorSize)).toString('base64') });
    runStart = -1;
  };
  for (let i = 0; i < sectorCount; i++) {
    const zero = isAllZero(r.bytes.subarray(i * sectorSize, (i + 1) * sectorSize));
    if (zero) flush(i);
    else if (runStart < 0) runStart = i;
  }
  flush(sectorCount);
  const s: SavedRegion = { role: r.role, lba: r.lba, sectorCount, crc32: crc32Ieee(r.bytes).toString(16).padStart(8, '0'), runs };
  if (r.synthesized) s.synthesized = true;
  return s;
}

function bad(path: string, expected: string, actual: unknown): SnapcloneError {
  return new SnapcloneError('PT_LAYOUT_BAD_FIELD', `saved layout: ${path} is not valid`, { expected, actual: actual === undefined ? 'nothing' : actual });
}

function int(v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(path, `a whole number from ${min} to ${max}`, v);
  return v;
}

function str(v: unknown, path: string, maxLength = 4096): string {
  if (typeof v !== 'string' || v.length > maxLength) throw bad(path, `a string of at most ${maxLength} characters`, typeof v);
  return v;
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(path, 'an object', Array.isArray(v) ? 'an array' : typeof v);
  return v as Record<string, unknown>;
}

function arr(v: unknown, path: string, maxLength: number): unknown[] {
  if (!Array.isArray(v) || v.length > maxLength) throw bad(path, `an array of at most ${maxLength} items`, Array.isArray(v) ? `${v.length} items` : typeof v);
  return v;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses and validates a saved layout; the result can be given to planApply() and applyLayout(). */
export async function decodeSavedLayout(bytes: Uint8Array): Promise<DiskLayout> {
  if (bytes.byteLength > MAX_SAVED_LAYOUT_BYTES) {
    throw new SnapcloneError('PT_LAYOUT_TOO_LARGE', 'the saved layout is larger than any layout snapclone writes', {
      expected: `at most ${MAX_SAVED_LAYOUT_BYTES} bytes`,
      actual: `${bytes.byteLength} bytes`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new SnapcloneError('PT_LAYOUT_BAD_JSON', `the saved layout is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const doc = obj(json, 'the document');
  if (doc['format'] !== SAVED_LAYOUT_FORMAT) {
    throw new SnapcloneError('PT_LAYOUT_BAD_FORMAT', 'this is not a snapclone saved layout', {
      expected: `"format": "${SAVED_LAYOUT_FORMAT}"`,
      actual: doc['format'] === undefined ? 'no format field' : JSON.stringify(doc['format']),
    });
  }
  const version = int(doc['version'], 'version', 1);
  if (version !== SAVED_LAYOUT_VERSION) {
    throw new SnapcloneError('PT_LAYOUT_VERSION', `saved layout version ${version} is not supported`, {
      expected: `version ${SAVED_LAYOUT_VERSION}`,
      actual: version,
      hint: version > SAVED_LAYOUT_VERSION ? 'it was written by a newer snapclone: use that one to apply it' : undefined,
    });
  }
  const label = doc['label'];
  if (label !== 'dos' && label !== 'gpt') throw bad('label', '"dos" or "gpt"', label);
  const sectorSize = doc['sectorSize'];
  if (!isSectorSize(sectorSize)) throw bad('sectorSize', '512, 1024, 2048 or 4096', sectorSize);
  const diskSizeBytes = int(doc['diskSizeBytes'], 'diskSizeBytes', sectorSize);
  const diskSectors = Math.floor(diskSizeBytes / sectorSize);
  const id = str(doc['id'], 'id', 64);
  const partitions = arr(doc['partitions'], 'partitions', 10000).map((p, i) => decodePartition(p, `partitions[${i}]`, sectorSize));
  const warnings: Warning[] = arr(doc['warnings'] ?? [], 'warnings', 10000).map((w, i) => {
    const o = obj(w, `warnings[${i}]`);
    return { code: str(o['code'], `warnings[${i}].code`, 64), message: str(o['message'], `warnings[${i}].message`) };
  });
  const regions = decodeRegions(arr(doc['regions'], 'regions', 2000), sectorSize, diskSectors);

  // The sectors must say what the list says: parse them back with the same readers as a real disk.
  const reread = await readLayout(new RegionDisk(regions, sectorSize, diskSizeBytes), { sectorSize, captureBootArea: false }).catch((e: unknown) => {
    throw new SnapcloneError('PT_LAYOUT_MISMATCH', `the saved sectors do not hold a readable partition table: ${(e as Error).message}`, { cause: e });
  });
  const mismatch = compareLayouts({ label, id, partitions }, reread);
  if (mismatch) {
    throw new SnapcloneError('PT_LAYOUT_MISMATCH', `the saved sectors do not match the saved partition list: ${mismatch}`, {
      hint: 'the file was edited or damaged; save the layout again from the disk',
    });
  }
  const layout: DiskLayout = { label, sectorSize, diskSizeBytes, id, partitions: reread.partitions, warnings, regions };
  if (reread.gpt) layout.gpt = reread.gpt;
  return layout;
}

function decodePartition(v: unknown, path: string, sectorSize: number): Partition {
  const o = obj(v, path);
  const kind = o['kind'];
  if (kind !== 'primary' && kind !== 'extended' && kind !== 'logical' && kind !== 'gpt') throw bad(`${path}.kind`, 'primary, extended, logical or gpt', kind);
  const p: Partition = {
    number: int(o['number'], `${path}.number`, 1, 100000),
    kind,
    startLba: int(o['start'], `${path}.start`),
    sectorCount: int(o['size'], `${path}.size`),
    sectorSize,
    type: str(o['type'], `${path}.type`, 64),
    tableLba: 0,
    entryIndex: 0,
  };
  if (o['bootable'] === true) p.bootable = true;
  if (o['name'] !== undefined) p.name = str(o['name'], `${path}.name`, 72);
  if (o['uuid'] !== undefined) {
    p.uuid = str(o['uuid'], `${path}.uuid`, 36);
    if (!isGuidText(p.uuid)) throw bad(`${path}.uuid`, 'a GUID', p.uuid);
  }
  if (o['attrs'] !== undefined) p.attrs = str(o['attrs'], `${path}.attrs`, 256);
  if (o['attributes'] !== undefined) p.attributes = str(o['attributes'], `${path}.attributes`, 16);
  return p;
}

function decodeRegions(list: unknown[], sectorSize: number, diskSectors: number): LayoutRegion[] {
  const regions: LayoutRegion[] = [];
  let totalBytes = 0;
  list.forEach((v, i) => {
    const path = `regions[${i}]`;
    const o = obj(v, path);
    const role = o['role'];
    if (typeof role !== 'string' || !REGION_ROLES.includes(role as RegionRole)) throw bad(`${path}.role`, REGION_ROLES.join(', '), role);
    const lba = int(o['lba'], `${path}.lba`, 0, diskSectors - 1);
    const sectorCount = int(o['sectorCount'], `${path}.sectorCount`, 1, diskSectors - lba);
    totalBytes += sectorCount * sectorSize;
    if (totalBytes > MAX_REGION_BYTES_TOTAL) throw bad(path, `regions of at most ${MAX_REGION_BYTES_TOTAL} bytes in all`, `${totalBytes} bytes so far`);
    const bytes = new Uint8Array(sectorCount * sectorSize);
    arr(o['runs'], `${path}.runs`, sectorCount).forEach((rv, k) => {
      const rpath = `${path}.runs[${k}]`;
      const run = obj(rv, rpath);
      const runLba = int(run['lba'], `${rpath}.lba`, lba, lba + sectorCount - 1);
      const data = str(run['data'], `${rpath}.data`, Math.ceil(((lba + sectorCount - runLba) * sectorSize) / 3) * 4);
      if (!BASE64.test(data)) throw bad(`${rpath}.data`, 'base64', 'other characters');
      const decoded = Buffer.from(data, 'base64');
      if (decoded.byteLength === 0 || decoded.byteLength % sectorSize !== 0 || (runLba - lba) * sectorSize + decoded.byteLength > bytes.byteLength) {
        throw bad(`${rpath}.data`, `whole ${sectorSize}-byte sectors inside the region`, `${decoded.byteLength} bytes`);
      }
      bytes.set(decoded, (runLba - lba) * sectorSize);
    });
    const crc = crc32Ieee(bytes).toString(16).padStart(8, '0');
    const savedCrc = str(o['crc32'], `${path}.crc32`, 8).toLowerCase();
    if (crc !== savedCrc) {
      throw new SnapcloneError('PT_LAYOUT_CRC', `saved layout: the sectors of region ${i} (${role} at sector ${lba}) are damaged`, {
        kind: 'verify',
        expected: savedCrc,
        actual: crc,
      });
    }
    const region: LayoutRegion = { role: role as RegionRole, lba, bytes };
    if (o['synthesized'] === true) region.synthesized = true;
    regions.push(region);
  });
  regions.sort((a, b) => a.lba - b.lba);
  for (let i = 1; i < regions.length; i++) {
    const prev = regions[i - 1] as LayoutRegion;
    const cur = regions[i] as LayoutRegion;
    if (prev.lba + prev.bytes.byteLength / sectorSize > cur.lba) {
      throw bad('regions', 'regions that do not overlap', `${prev.role} at ${prev.lba} overlaps ${cur.role} at ${cur.lba}`);
    }
  }
  if (regions[0]?.role !== 'mbr' || regions[0].lba !== 0) throw bad('regions', 'an mbr region at sector 0', regions[0]?.role);
  return regions;
}

/** Undefined when the partition lists agree, else what differs first. */
export function compareLayouts(
  a: Pick<DiskLayout, 'label' | 'id' | 'partitions'>,
  b: Pick<DiskLayout, 'label' | 'id' | 'partitions'>,
): string | undefined {
  if (a.label !== b.label) return `label ${a.label} vs ${b.label}`;
  if (a.id !== b.id) return `id ${a.id} vs ${b.id}`;
  if (a.partitions.length !== b.partitions.length) return `${a.partitions.length} vs ${b.partitions.length} partitions`;
  const keys = ['number', 'kind', 'startLba', 'sectorCount', 'type', 'bootable', 'name', 'uuid', 'attributes'] as const;
  for (let i = 0; i < a.partitions.length; i++) {
    const p = a.partitions[i] as Partition;
    const q = b.partitions[i] as Partition;
    for (const k of keys) {
      if (p[k] !== q[k]) return `partition ${p.number}: ${k} ${JSON.stringify(p[k])} vs ${JSON.stringify(q[k])}`;
    }
  }
  return undefined;
}
