// manifest.json of a backup set: what was backed up, from where, how consistent it is, and the
// SHA-256 and size of every file in the set. Written last; a set without a valid manifest is
// incomplete. Decoded with validation, so a damaged manifest is reported, not trusted.

import { SnapcloneError } from '../core/errors.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'snapclone-backup-set';
export const MANIFEST_VERSION = 1;

/** seed-import: made by the seed's ntfsclone | bzip2 pipeline and a dd of the MBR, imported. */
export type SourceKind = 'lvm-snapshot' | 'file' | 'block-device' | 'seed-import';
/**
 * quiesced: the guest was frozen while the snapshot was taken; crash-consistent: a snapshot without a
 * freeze (what a power cut would leave); no-snapshot: the source was read live (a file or a device
 * that is not an LV), consistent only if nothing wrote to it during the backup.
 */
export type Consistency = 'quiesced' | 'crash-consistent' | 'no-snapshot';
const CONSISTENCIES: readonly string[] = ['quiesced', 'crash-consistent', 'no-snapshot'];

export interface ManifestFile {
  /** Name inside the set directory (no slashes). */
  name: string;
  sizeBytes: number;
  sha256: string;
}

export interface ManifestPartition {
  /** Linux partition number (1-4 primary, 5+ logical); 0 for a disk without a partition table. */
  number: number;
  startByte: number;
  sizeBytes: number;
  /** The partition type as sfdisk writes it ("7", "83", a GPT type GUID); "" without a table. */
  type: string;
  filesystem: 'ntfs' | 'raw';
  /** The image file in the set. */
  image: string;
  /** ntfsclone special image (10.1) or the raw partition bytes, bzip2-compressed. */
  imageFormat: 'ntfsclone+bzip2' | 'raw+bzip2';
  /** Bytes of the image before compression. */
  imageBytes: number;
  ntfs?: {
    clusterSize: number;
    nrClusters: number;
    inuse: number;
    deviceSize: number;
    serial: string;
    version?: string;
    /** The volume was flagged dirty and saved anyway (--force). */
    dirty?: boolean;
  };
}

/** The fields every new manifest opens with: format, this tool, the label, when the run began and ended (now). */
export function manifestHead(tool: Manifest['tool'], label: string, startedAt: Date): Pick<Manifest, 'format' | 'formatVersion' | 'tool' | 'label' | 'createdAt' | 'completedAt'> {
  return { format: MANIFEST_FORMAT, formatVersion: MANIFEST_VERSION, tool, label, createdAt: startedAt.toISOString(), completedAt: new Date().toISOString() };
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  tool: { name: string; version: string };
  label: string;
  createdAt: string;
  completedAt: string;
  source: {
    path: string;
    kind: SourceKind;
    sizeBytes: number;
    vg?: string;
    lv?: string;
    snapshot?: string;
    snapshotSizeBytes?: number;
    snapshotMaxFillPercent?: number;
  };
  consistency: Consistency;
  /**
   * The agent's part, when --agent was given: the freeze window (frozenAt..thawedAt) around the
   * snapshot, or why there was none (`freezeError`, with --allow-unquiesced).
   */
  quiesce?:
    | {
        agent: string;
        frozenAt?: string;
        thawedAt?: string;
        frozenMs?: number;
        freezeOutput?: string;
        freezeError?: string;
        thawError?: string;
      }
    | undefined;
  /** Things the operator should know (no snapshot taken, a thaw that failed, ...). */
  warnings?: string[];
  disk: {
    sizeBytes: number;
    sectorSize: number;
    label: 'dos' | 'gpt' | 'none';
    id?: string;
    /** The saved layout file (absent for a disk without a partition table). */
    layoutFile?: string;
  };
  partitions: ManifestPartition[];
  compression: { format: 'bzip2'; level: number; threads: number };
  timings: { totalSeconds: number; snapshotSeconds?: number; freezeSeconds?: number; imagingSeconds: number };
  files: ManifestFile[];
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

function bad(what: string, expected: string, actual: unknown): SnapcloneError {
  return new SnapcloneError('SET_BAD_MANIFEST', `manifest: ${what} is invalid`, { expected, actual });
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates manifest.json text. Unknown extra fields are kept (forward compatible). */
export function decodeManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SnapcloneError('SET_BAD_MANIFEST', 'manifest is not valid JSON', { cause: e });
  }
  if (typeof raw !== 'object' || raw === null) throw bad('document', 'an object', typeof raw);
  const m = raw as Partial<Manifest>;
  if (m.format !== MANIFEST_FORMAT) throw bad('format', MANIFEST_FORMAT, m.format);
  if (!isCount(m.formatVersion) || m.formatVersion < 1) throw bad('formatVersion', 'a positive integer', m.formatVersion);
  if (m.formatVersion > MANIFEST_VERSION) {
    throw new SnapcloneError('SET_UNSUPPORTED_VERSION', 'this backup set was written by a newer snapclone', {
      expected: `format version ${MANIFEST_VERSION} or older`,
      actual: m.formatVersion,
      hint: 'upgrade snapclone to read it',
    });
  }
  if (!Array.isArray(m.files)) throw bad('files', 'an array', m.files);
  const seen = new Set<string>();
  for (const f of m.files) {
    if (typeof f?.name !== 'string' || !PLAIN_NAME.test(f.name) || f.name === MANIFEST_FILE) {
      throw bad('files[].name', 'a plain file name inside the set', f?.name);
    }
    if (seen.has(f.name)) throw bad('files[].name', 'unique names', f.name);
    seen.add(f.name);
    if (!isCount(f.sizeBytes)) throw bad(`size of ${f.name}`, 'a byte count', f.sizeBytes);
    if (typeof f.sha256 !== 'string' || !SHA256_HEX.test(f.sha256)) throw bad(`sha256 of ${f.name}`, '64 hex digits', f.sha256);
  }
  if (!Array.isArray(m.partitions)) throw bad('partitions', 'an array', m.partitions);
  for (const p of m.partitions) {
    if (!isCount(p?.number) || !isCount(p.startByte) || !isCount(p.sizeBytes) || !isCount(p.imageBytes)) {
      throw bad('partitions[]', 'number, startByte, sizeBytes and imageBytes as byte counts', p);
    }
    if (!seen.has(p.image)) throw bad(`partition ${p.number} image`, 'a file listed in files[]', p.image);
    if (p.filesystem !== 'ntfs' && p.filesystem !== 'raw') throw bad(`partition ${p.number} filesystem`, 'ntfs or raw', p.filesystem);
    const format = p.filesystem === 'ntfs' ? 'ntfsclone+bzip2' : 'raw+bzip2';
    if (p.imageFormat !== format) throw bad(`partition ${p.number} imageFormat`, format, p.imageFormat);
    if (p.filesystem === 'ntfs') {
      const n = p.ntfs;
      if (typeof n !== 'object' || n === null || !isCount(n.clusterSize) || n.clusterSize === 0 || !isCount(n.nrClusters) || !isCount(n.inuse) || !isCount(n.deviceSize)) {
        throw bad(`partition ${p.number} ntfs`, 'clusterSize, nrClusters, inuse and deviceSize as counts', n);
      }
      if (n.inuse > n.nrClusters) throw bad(`partition ${p.number} ntfs.inuse`, `at most nrClusters (${n.nrClusters})`, n.inuse);
    } else if (p.imageBytes !== p.sizeBytes) {
      throw bad(`partition ${p.number} imageBytes`, `the partition size (${p.sizeBytes}) for a raw image`, p.imageBytes);
    }
  }
  const numbers = new Set<number>();
  for (const p of m.partitions) {
    if (numbers.has(p.number)) throw bad('partitions[].number', 'unique partition numbers', p.number);
    numbers.add(p.number);
  }
  if (typeof m.disk !== 'object' || m.disk === null || !isCount(m.disk.sizeBytes) || !isCount(m.disk.sectorSize)) {
    throw bad('disk', 'sizeBytes and sectorSize', m.disk);
  }
  if (m.disk.layoutFile !== undefined && !seen.has(m.disk.layoutFile)) {
    throw bad('disk.layoutFile', 'a file listed in files[]', m.disk.layoutFile);
  }
  for (const p of m.partitions) {
    if (p.startByte + p.sizeBytes > m.disk.sizeBytes) {
      throw bad(`partition ${p.number} extent`, `within the disk (${m.disk.sizeBytes} bytes)`, p.startByte + p.sizeBytes);
    }
  }
  if (typeof m.consistency !== 'string' || !CONSISTENCIES.includes(m.consistency)) {
    throw bad('consistency', CONSISTENCIES.join(', '), m.consistency);
  }
  if (typeof m.label !== 'string' || typeof m.createdAt !== 'string' || typeof m.completedAt !== 'string') {
    throw bad('label/createdAt/completedAt', 'strings', { label: m.label, createdAt: m.createdAt });
  }
  if (typeof m.source !== 'object' || m.source === null || typeof m.source.path !== 'string') {
    throw bad('source', 'an object with a path', m.source);
  }
  return m as Manifest;
}

export function encodeManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}
