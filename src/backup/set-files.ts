// Reading a backup set's files back: each through a SHA-256 and size check against the manifest,
// images through the bzip2 decoder, all as one pipeline so that every stage's error surfaces. The
// consumer of an image may stop early (the image decoder stops at the last cluster): the rest of the
// file is still read, decoded and checked before the file counts as good.
// Spec: issue 5 "restore" and "verify".

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SnapcloneError, type WarnFn } from '../core/errors.js';
import { createDecompressStream } from '../bzip2/decompress-stream.js';
import { decodeSavedLayout, type DiskLayout } from '../partition/index.js';
import { ioError } from '../io/source-file.js';
import { MAX_SAVED_LAYOUT_BYTES } from '../partition/saved-layout.js';
import type { Manifest, ManifestFile } from './manifest.js';

const READ_CHUNK_BYTES = 1024 * 1024;

export interface ChecksumOutcome {
  ok: boolean;
  sizeBytes: number;
  sha256: string;
}

/**
 * A pass-through that hashes and counts, and at the end compares with the manifest's record. With
 * `failOnMismatch` a difference fails the stream (SET_CHECKSUM_MISMATCH or SET_FILE_SIZE, naming the
 * file); otherwise it is only recorded in `outcome`.
 */
export class ChecksumCheck extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  outcome: ChecksumOutcome | undefined;

  constructor(
    private readonly file: ManifestFile,
    private readonly path: string,
    private readonly failOnMismatch: boolean,
    private readonly onBytes?: (bytesSoFar: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    this.onBytes?.(this.bytes);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.hash.digest('hex');
    const ok = sha256 === this.file.sha256 && this.bytes === this.file.sizeBytes;
    this.outcome = { ok, sizeBytes: this.bytes, sha256 };
    if (!ok && this.failOnMismatch) callback(checksumError(this.file, this.path, this.outcome));
    else callback();
  }
}

export function checksumError(file: ManifestFile, path: string, found: { sizeBytes: number; sha256: string }, cause?: unknown): SnapcloneError {
  if (found.sizeBytes !== file.sizeBytes) {
    return new SnapcloneError('SET_FILE_SIZE', `${file.name} does not have the size the manifest records: the set is damaged`, {
      kind: 'verify',
      path,
      expected: `${file.sizeBytes} bytes`,
      actual: `${found.sizeBytes} bytes`,
      cause,
    });
  }
  return new SnapcloneError('SET_CHECKSUM_MISMATCH', `${file.name} does not match its SHA-256 in the manifest: the set is damaged`, {
    kind: 'verify',
    path,
    expected: file.sha256,
    actual: found.sha256,
    hint: 'restore from another set (snapclone list shows them), and check the storage that holds the backups',
    cause,
  });
}

function isChecksumError(e: unknown): boolean {
  return e instanceof SnapcloneError && (e.code === 'SET_CHECKSUM_MISMATCH' || e.code === 'SET_FILE_SIZE');
}

/** SHA-256 and size of a whole file, read sequentially. */
export async function hashFile(path: string): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) {
      hash.update(chunk as Buffer);
      sizeBytes += (chunk as Buffer).byteLength;
    }
  } catch (e) {
    throw ioError(e, path, 'read');
  }
  return { sizeBytes, sha256: hash.digest('hex') };
}

/** The manifest's record of `name`, or an internal error (the manifest decoder checked the links). */
export function manifestFile(manifest: Manifest, name: string): ManifestFile {
  const f = manifest.files.find((x) => x.name === name);
  if (!f) throw new SnapcloneError('SET_BAD_MANIFEST', `the manifest does not list ${name}`, { kind: 'input' });
  return f;
}

/** An async iterable over `source` whose early `return()` (a `break`) leaves the stream running. */
function nonClosing(source: AsyncIterable<Uint8Array>): { view: AsyncIterable<Uint8Array>; rest: () => Promise<number> } {
  const it = source[Symbol.asyncIterator]();
  const view: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: () => it.next(),
      return: async () => ({ done: true as const, value: undefined }),
    }),
  };
  const rest = async (): Promise<number> => {
    let n = 0;
    for (;;) {
      const r = await it.next();
      if (r.done) return n;
      n += (r.value as Uint8Array).byteLength;
    }
  };
  return { view, rest };
}

export interface ImageReadResult<T> {
  /** What `consume` returned. */
  value: T;
  /** Decompressed bytes that `consume` left unread (read and checked anyway). */
  unreadBytes: number;
  checksum: ChecksumOutcome;
}

/**
 * Reads `file` of the set at `setPath` through the checksum check and the bzip2 decoder and hands
 * the decompressed bytes to `consume`. Resolves only once the whole file was read, decoded (every
 * block CRC and the stream CRC) and, with `failOnMismatch`, found equal to the manifest's SHA-256.
 */
export async function readCompressedFile<T>(
  setPath: string,
  file: ManifestFile,
  consume: (chunks: AsyncIterable<Uint8Array>) => Promise<T>,
  options: { threads?: number; failOnMismatch: boolean; onWarning?: WarnFn; onReadBytes?: (n: number) => void },
): Promise<ImageReadResult<T>> {
  const path = join(setPath, file.name);
  const input = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  const check = new ChecksumCheck(file, path, options.failOnMismatch, options.onReadBytes);
  const decompress = createDecompressStream({
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    inputBytes: file.sizeBytes, // workers start at once for a large file
  });
  let value: T | undefined;
  let unreadBytes = 0;
  try {
    await pipeline(input, check, decompress, async (decoded: AsyncIterable<Uint8Array>) => {
      const { view, rest } = nonClosing(decoded);
      value = await consume(view);
      unreadBytes = await rest();
    });
  } catch (e) {
    // Whatever stage noticed first (a bzip2 CRC, the image decoder), a file that differs from what
    // was written is reported as such: that is what the operator needs to know.
    if (options.failOnMismatch && !isChecksumError(e)) {
      const found = check.outcome ?? (await hashFile(path).catch(() => undefined));
      if (found && (found.sha256 !== file.sha256 || found.sizeBytes !== file.sizeBytes)) throw checksumError(file, path, found, e);
    }
    if (e instanceof SnapcloneError) throw e.withPath(path);
    throw ioError(e, path, 'read');
  }
  return { value: value as T, unreadBytes, checksum: check.outcome as ChecksumOutcome };
}

/**
 * Reads and decodes the saved layout of a set: size bound, SHA-256, every field and CRC
 * (decodeSavedLayout), then its agreement with the manifest (SET_LAYOUT_MISMATCH).
 */
export async function loadSetLayout(setPath: string, manifest: Manifest): Promise<DiskLayout | undefined> {
  const name = manifest.disk.layoutFile;
  if (name === undefined) return undefined;
  const file = manifestFile(manifest, name);
  const path = join(setPath, name);
  let bytes: Uint8Array;
  try {
    bytes = await readBoundedBytes(path, MAX_SAVED_LAYOUT_BYTES);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SnapcloneError('SET_FILE_MISSING', `${name} is missing from the set ${setPath}`, { kind: 'input', path });
    }
    throw e instanceof SnapcloneError ? e : ioError(e, path, 'read');
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== file.sha256 || bytes.byteLength !== file.sizeBytes) throw checksumError(file, path, { sizeBytes: bytes.byteLength, sha256 });
  const layout = await decodeSavedLayout(bytes).catch((e: unknown) => {
    throw e instanceof SnapcloneError ? e.withPath(path) : e;
  });
  const problem = layoutManifestMismatch(layout, manifest);
  if (problem) {
    throw new SnapcloneError('SET_LAYOUT_MISMATCH', `the saved layout and the manifest disagree: ${problem}`, { kind: 'input', path });
  }
  return layout;
}

/** Undefined when the layout and the manifest describe the same disk and partitions. */
export function layoutManifestMismatch(layout: DiskLayout, manifest: Manifest): string | undefined {
  if (layout.diskSizeBytes !== manifest.disk.sizeBytes) return `disk size ${layout.diskSizeBytes} vs ${manifest.disk.sizeBytes}`;
  if (layout.label !== manifest.disk.label) return `label ${layout.label} vs ${manifest.disk.label}`;
  if (layout.sectorSize !== manifest.disk.sectorSize) return `sector size ${layout.sectorSize} vs ${manifest.disk.sectorSize}`;
  if (manifest.disk.id !== undefined && layout.id !== manifest.disk.id) return `disk id ${layout.id} vs ${manifest.disk.id}`;
  for (const p of manifest.partitions) {
    const q = layout.partitions.find((x) => x.number === p.number);
    if (!q) return `partition ${p.number} is not in the layout`;
    if (q.startLba * q.sectorSize !== p.startByte || q.sectorCount * q.sectorSize !== p.sizeBytes) {
      return `partition ${p.number} at ${p.startByte}+${p.sizeBytes} in the manifest, ${q.startLba * q.sectorSize}+${q.sectorCount * q.sectorSize} in the layout`;
    }
    if (q.type !== p.type) return `partition ${p.number} type ${p.type} vs ${q.type}`;
  }
  const imaged = new Set(manifest.partitions.map((p) => p.number));
  const missing = layout.partitions.find((q) => q.kind !== 'extended' && q.sectorCount > 0 && !imaged.has(q.number));
  if (missing) return `partition ${missing.number} has no image`;
  return undefined;
}

/** The whole file, refusing one larger than `maxBytes` (a damaged set must not allocate without limit). */
export async function readBoundedBytes(path: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const sizeBytes = (await handle.stat()).size;
    if (sizeBytes > maxBytes) {
      throw new SnapcloneError('SET_FILE_TOO_LARGE', `${path} is larger than such a file can be`, { kind: 'input', path, expected: `at most ${maxBytes} bytes`, actual: `${sizeBytes} bytes` });
    }
    const bytes = new Uint8Array(sizeBytes);
    let done = 0;
    while (done < sizeBytes) {
      const { bytesRead } = await handle.read(bytes, done, sizeBytes - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return bytes.subarray(0, done);
  } finally {
    await handle.close();
  }
}
