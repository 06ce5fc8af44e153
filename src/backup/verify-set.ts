// `snapclone verify SET`: everything that can be checked without the original disk. The manifest
// decodes; every file it lists is there at its size with its SHA-256; the saved layout decodes (every
// field and CRC) and agrees with the manifest; every image decompresses (every bzip2 block and stream
// CRC) to the size recorded, and every ntfsclone image decodes end to end with the cluster count its
// header promises and the geometry the manifest records. Failures are collected, not stopped at.
// Spec: issue 5 "verify"; anchors.md §5 feature 6.

import { readdir } from 'node:fs/promises';
import { isSnapcloneError, SnapcloneError, type ErrorKind } from '../core/errors.js';
import { prefixedProgress, silentProgress, type Progress } from '../core/progress.js';
import { ImageDecoder, type DecodeSummary } from '../image/image-decoder.js';
import { ioError } from '../io/source-file.js';
import { MANIFEST_FILE, type Manifest, type ManifestPartition } from './manifest.js';
import { checksumError, hashFile, loadSetLayout, manifestFile, readCompressedFile } from './set-files.js';
import { checkSetFiles, readManifest } from './set-inventory.js';

export interface VerifyCheck {
  /** "manifest", "layout", a file name. */
  subject: string;
  /** What was checked: "decodes", "sha256", "bzip2", "image", ... */
  check: string;
  ok: boolean;
  code?: string;
  /** The failure's kind (its exit status family). */
  kind?: ErrorKind;
  message: string;
}

export interface VerifyReport {
  set: string;
  ok: boolean;
  checks: VerifyCheck[];
  manifest?: Manifest;
  /** Files in the set directory that the manifest does not list (not an error). */
  extraFiles: string[];
}

export async function verifySet(setPath: string, options: { threads?: number; progress?: Progress } = {}): Promise<VerifyReport> {
  const progress = options.progress ?? silentProgress;
  const checks: VerifyCheck[] = [];
  const pass = (subject: string, check: string, message: string): void => void checks.push({ subject, check, ok: true, message });
  const fail = (subject: string, check: string, e: unknown): void =>
    void checks.push({
      subject,
      check,
      ok: false,
      code: isSnapcloneError(e) ? e.code : 'SET_UNREADABLE',
      kind: isSnapcloneError(e) ? e.kind : 'io',
      message: e instanceof Error ? e.message : String(e),
    });
  const report = (manifest?: Manifest, extraFiles: string[] = []): VerifyReport => ({
    set: setPath,
    ok: checks.every((c) => c.ok),
    checks,
    ...(manifest ? { manifest } : {}),
    extraFiles,
  });

  let manifest: Manifest;
  try {
    manifest = await readManifest(setPath);
    pass(MANIFEST_FILE, 'decodes', `format ${manifest.formatVersion}, ${manifest.files.length} files, ${manifest.partitions.length} images`);
  } catch (e) {
    fail(MANIFEST_FILE, 'decodes', e);
    return report();
  }
  const extraFiles = await listExtraFiles(setPath, manifest);

  // Presence and sizes first: cheap, and they say at once which file is missing.
  const absent = new Set<string>();
  for (const f of manifest.files) {
    try {
      await checkSetFiles(setPath, { ...manifest, files: [f] });
    } catch (e) {
      absent.add(f.name);
      fail(f.name, 'present', e);
    }
  }

  if (manifest.disk.layoutFile !== undefined && !absent.has(manifest.disk.layoutFile)) {
    try {
      const layout = await loadSetLayout(setPath, manifest);
      pass(manifest.disk.layoutFile, 'layout', `${layout?.label} label, ${layout?.partitions.length} partitions, matches the manifest; sha256 ok`);
    } catch (e) {
      fail(manifest.disk.layoutFile, 'layout', e);
    }
  }

  for (const p of manifest.partitions) {
    if (absent.has(p.image)) continue;
    const file = manifestFile(manifest, p.image);
    const view = prefixedProgress(progress, `verify ${p.image}`);
    view.begin('Reading', file.sizeBytes);
    try {
      const r = await readCompressedFile(setPath, file, (chunks) => (p.filesystem === 'ntfs' ? decodeNtfsImage(chunks) : countBytes(chunks)), {
        threads: options.threads,
        failOnMismatch: false,
        onReadBytes: (n) => view.update(n),
      });
      view.end();
      if (r.checksum.ok) pass(p.image, 'sha256', `sha256 and size (${file.sizeBytes} bytes) as recorded`);
      else fail(p.image, 'sha256', checksumError(file, `${setPath}/${p.image}`, r.checksum));
      pass(p.image, 'bzip2', 'every block and stream CRC correct');
      try {
        checkImage(p, r.value, r.unreadBytes);
        pass(p.image, 'image', describeImage(p, r.value));
      } catch (e) {
        fail(p.image, 'image', e);
      }
    } catch (e) {
      view.end();
      // A damaged file usually fails its bzip2 CRCs (or the image decoder) before its SHA-256 can be
      // compared: hash it on its own, so the report says both.
      try {
        const found = await hashFile(`${setPath}/${p.image}`);
        if (found.sha256 === file.sha256 && found.sizeBytes === file.sizeBytes) pass(p.image, 'sha256', `sha256 and size (${file.sizeBytes} bytes) as recorded`);
        else fail(p.image, 'sha256', checksumError(file, `${setPath}/${p.image}`, found));
      } catch (h) {
        fail(p.image, 'sha256', h);
      }
      fail(p.image, isSnapcloneError(e) && e.code.startsWith('BZ2_') ? 'bzip2' : isSnapcloneError(e) && e.code.startsWith('IMG_') ? 'image' : 'read', e);
    }
  }
  return report(manifest, extraFiles);
}

type Decoded = { kind: 'ntfs'; summary: DecodeSummary; bytes: number } | { kind: 'raw'; bytes: number };

async function decodeNtfsImage(chunks: AsyncIterable<Uint8Array>): Promise<Decoded> {
  const decoder = new ImageDecoder({ data() {} });
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.byteLength;
    decoder.push(chunk);
  }
  return { kind: 'ntfs', summary: decoder.end(), bytes };
}

async function countBytes(chunks: AsyncIterable<Uint8Array>): Promise<Decoded> {
  let bytes = 0;
  for await (const chunk of chunks) bytes += chunk.byteLength;
  return { kind: 'raw', bytes };
}

/** The decoded image against the manifest: size, and for NTFS the header and the cluster count. */
function checkImage(p: ManifestPartition, d: Decoded, unreadBytes: number): void {
  const bytes = d.bytes + unreadBytes;
  if (bytes !== p.imageBytes) {
    throw new SnapcloneError('SET_IMAGE_MISMATCH', `${p.image} decompresses to another size than the manifest records`, {
      kind: 'verify',
      expected: `${p.imageBytes} bytes`,
      actual: `${bytes} bytes`,
    });
  }
  if (d.kind !== 'ntfs') return;
  const h = d.summary.header;
  const n = p.ntfs;
  if (!n || h.cluster_size !== n.clusterSize || h.nr_clusters !== n.nrClusters || h.inuse !== n.inuse || h.device_size !== n.deviceSize) {
    throw new SnapcloneError('SET_IMAGE_MISMATCH', `the header of ${p.image} does not describe the volume the manifest records`, {
      kind: 'verify',
      expected: n ? `cluster size ${n.clusterSize}, ${n.nrClusters} clusters, ${n.inuse} in use, device ${n.deviceSize} bytes` : 'an NTFS record',
      actual: `cluster size ${h.cluster_size}, ${h.nr_clusters} clusters, ${h.inuse} in use, device ${h.device_size} bytes`,
    });
  }
  // One NEXT per cluster in use, plus the backup boot sector chunk after the last cluster.
  const expectedClusters = h.inuse + (d.summary.noBackupBootSector ? 0 : 1);
  if (d.summary.clusters !== expectedClusters) {
    throw new SnapcloneError('SET_IMAGE_MISMATCH', `${p.image} holds ${d.summary.clusters} clusters where its header announces ${h.inuse} in use`, {
      kind: 'verify',
      expected: `${expectedClusters} cluster records`,
      actual: d.summary.clusters,
    });
  }
  if (d.summary.trailingBytes > 0) {
    throw new SnapcloneError('SET_IMAGE_MISMATCH', `${p.image} has ${d.summary.trailingBytes} bytes after its last cluster`, { kind: 'verify' });
  }
}

function describeImage(p: ManifestPartition, d: Decoded): string {
  if (d.kind === 'raw') return `raw image of ${p.sizeBytes} bytes`;
  return `ntfsclone image decodes end to end: ${d.summary.header.inuse} clusters in use of ${d.summary.header.nr_clusters}, as recorded`;
}

async function listExtraFiles(setPath: string, manifest: Manifest): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(setPath);
  } catch (e) {
    throw ioError(e, setPath, 'list');
  }
  const known = new Set([MANIFEST_FILE, ...manifest.files.map((f) => f.name)]);
  return names.filter((n) => !known.has(n)).sort();
}
