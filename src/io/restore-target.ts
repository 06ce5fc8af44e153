// Where a restore writes: a regular file (sparse: gaps stay holes; written under a temporary name
// and renamed when complete), a block device (gaps seeked over; refused when too small or
// mounted), or a stream such as stdout (gaps written as zeros: a full raw volume).
// Spec: docs/spec/ntfsclone-format.md §5 (file length, the NCL*CS+512 size rule, stdout).

import { constants, type FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { SnapcloneError } from '../core/errors.js';
import { createAtomicFile, type AtomicFile } from './atomic-file.js';
import { refuseMounted } from './mount-check.js';
import { blockDeviceSizeBytes, ioError, pathKind } from './source-file.js';
import { writeFully } from './write-fully.js';

/** What a restore needs to know about the volume before the first write. */
export interface RestoreGeometry {
  clusterSize: number;
  nrClusters: number;
}

export interface RestoreTarget {
  /** Called once with the image's geometry, before any write. */
  begin(g: RestoreGeometry): Promise<void>;
  /** Writes `bytes` at `volumeByteOffset`. */
  write(bytes: Uint8Array, volumeByteOffset: number): Promise<void>;
  /** Writes `pieces`, one after the other, from `volumeByteOffset` (a gather write). */
  writev(pieces: Uint8Array[], volumeByteOffset: number): Promise<void>;
  /** The position moved to `volumeByteOffset` over a gap (streams fill it with zeros). */
  skipTo(volumeByteOffset: number): Promise<void>;
  /** Everything was written: sync and make the result visible. */
  finish(): Promise<void>;
  /** Something failed: remove what is not complete. */
  abort(): Promise<void>;
  readonly description: string;
  /** True when writes go to explicit offsets (several may be pending at once); false for streams. */
  readonly positional: boolean;
}

/** ntfsclone's rule for a target: it must hold nr_clusters * cluster_size + 512 bytes. */
export function minimumTargetBytes(g: RestoreGeometry): number {
  return g.nrClusters * g.clusterSize + 512;
}

/** pwritev until everything is written (a short write resumes in the middle of a piece). */
async function writevFully(handle: FileHandle, pieces: Uint8Array[], position: number, path: string): Promise<void> {
  let rest = pieces;
  let at = position;
  while (rest.length > 0) {
    let n: number;
    try {
      ({ bytesWritten: n } = await handle.writev(rest, at));
    } catch (e) {
      throw ioError(e, path, `write at offset ${at} of`);
    }
    at += n;
    let i = 0;
    while (i < rest.length && n >= (rest[i] as Uint8Array).byteLength) n -= (rest[i++] as Uint8Array).byteLength;
    rest = rest.slice(i);
    if (n > 0 && rest.length > 0) rest[0] = (rest[0] as Uint8Array).subarray(n);
  }
}

function totalBytes(pieces: Uint8Array[]): number {
  let n = 0;
  for (const p of pieces) n += p.byteLength;
  return n;
}

/** A regular file, created under a temporary name (sparse: gaps are never written). */
export class FileRestoreTarget implements RestoreTarget {
  readonly positional = true;
  private file: AtomicFile | undefined;
  constructor(
    readonly path: string,
    private readonly overwrite: boolean,
  ) {}

  get description(): string {
    return this.path;
  }

  /** Checks that the target may be created (before the image is read at all). */
  async prepare(): Promise<void> {
    this.file = await createAtomicFile(this.path, { overwrite: this.overwrite, mode: 0o600 });
  }

  async begin(g: RestoreGeometry): Promise<void> {
    if (!this.file) await this.prepare();
    const handle = (this.file as AtomicFile).handle;
    // As ntfsclone: grow to the whole volume once to learn early whether the file system can hold
    // it (EFBIG on small file systems), then back to empty so the writes leave holes.
    try {
      await handle.truncate(minimumTargetBytes(g));
      await handle.truncate(0);
    } catch (e) {
      throw ioError(e, this.path, `make room for ${minimumTargetBytes(g)} bytes in`);
    }
  }

  async write(bytes: Uint8Array, volumeByteOffset: number): Promise<void> {
    await writeFully((this.file as AtomicFile).handle, bytes, volumeByteOffset, this.path);
  }

  async writev(pieces: Uint8Array[], volumeByteOffset: number): Promise<void> {
    await writevFully((this.file as AtomicFile).handle, pieces, volumeByteOffset, this.path);
  }

  async skipTo(): Promise<void> {}

  async finish(): Promise<void> {
    await (this.file as AtomicFile).commit();
  }

  async abort(): Promise<void> {
    await this.file?.abort();
  }
}

/** A block device: written in place, gaps left untouched. */
export class BlockDeviceRestoreTarget implements RestoreTarget {
  readonly positional = true;
  private handle: FileHandle | undefined;
  private sizeBytes = 0;
  constructor(readonly path: string) {}

  get description(): string {
    return this.path;
  }

  async prepare(): Promise<void> {
    await refuseMounted(this.path);
    try {
      // O_EXCL on a block device: the kernel refuses it while the device is mounted or in use.
      this.handle = await open(this.path, constants.O_RDWR | constants.O_EXCL);
    } catch (e) {
      throw ioError(e, this.path, 'open for writing');
    }
    this.sizeBytes = await blockDeviceSizeBytes(this.handle, await this.handle.stat());
  }

  async begin(g: RestoreGeometry): Promise<void> {
    if (!this.handle) await this.prepare();
    const need = minimumTargetBytes(g);
    if (this.sizeBytes < need) {
      throw new SnapcloneError('IO_TARGET_TOO_SMALL', `output device ${this.path} is too small to fit the NTFS image`, {
        kind: 'refused',
        path: this.path,
        expected: `at least ${need} bytes`,
        actual: `${this.sizeBytes} bytes`,
        hint: 'restore onto a device (logical volume) at least as large as the volume was',
      });
    }
  }

  async write(bytes: Uint8Array, volumeByteOffset: number): Promise<void> {
    await this.writev([bytes], volumeByteOffset);
  }

  async writev(pieces: Uint8Array[], volumeByteOffset: number): Promise<void> {
    const length = totalBytes(pieces);
    if (volumeByteOffset + length > this.sizeBytes) {
      throw new SnapcloneError('IO_ENOSPC', `the image does not fit on ${this.path}`, {
        kind: 'io',
        path: this.path,
        byteOffset: volumeByteOffset,
        expected: `writes within ${this.sizeBytes} bytes`,
        actual: `${length} bytes at ${volumeByteOffset}`,
      });
    }
    await writevFully(this.handle as FileHandle, pieces, volumeByteOffset, this.path);
  }

  async skipTo(): Promise<void> {}

  async finish(): Promise<void> {
    try {
      await this.handle?.sync();
    } catch (e) {
      throw ioError(e, this.path, 'sync');
    }
    await this.handle?.close();
    this.handle = undefined;
  }

  async abort(): Promise<void> {
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
  }
}

const ZEROS = new Uint8Array(1024 * 1024);

/** A stream (stdout): strictly sequential; gaps become zeros, a backwards move is refused. */
export class StreamRestoreTarget implements RestoreTarget {
  readonly positional = false;
  private position = 0;
  private failure: Error | undefined;
  constructor(
    private readonly stream: Writable,
    readonly description = 'standard output',
  ) {
    stream.on('error', (e: Error) => {
      this.failure = e;
    });
  }

  async begin(): Promise<void> {}

  private async put(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw ioError(this.failure, this.description, 'write to');
    if (!this.stream.write(bytes)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
      if (this.failure) throw ioError(this.failure, this.description, 'write to');
    }
    this.position += bytes.byteLength;
  }

  async skipTo(volumeByteOffset: number): Promise<void> {
    if (volumeByteOffset < this.position) {
      throw new SnapcloneError('IMG_NOT_SEQUENTIAL', 'this image moves backwards (a metadata or rescue image): it cannot be restored to a stream', {
        kind: 'refused',
        expected: `a position of at least ${this.position}`,
        actual: volumeByteOffset,
        hint: 'restore it to a file or a block device instead',
      });
    }
    while (this.position < volumeByteOffset) {
      await this.put(ZEROS.subarray(0, Math.min(ZEROS.byteLength, volumeByteOffset - this.position)));
    }
  }

  async write(bytes: Uint8Array, volumeByteOffset: number): Promise<void> {
    await this.skipTo(volumeByteOffset);
    await this.put(bytes);
  }

  async writev(pieces: Uint8Array[], volumeByteOffset: number): Promise<void> {
    await this.skipTo(volumeByteOffset);
    for (const p of pieces) await this.put(p);
  }

  async finish(): Promise<void> {
    if (this.failure) throw ioError(this.failure, this.description, 'write to');
  }

  async abort(): Promise<void> {}
}

/** Picks the target for `path`: '-' for stdout, a block device, or a (new) regular file. */
export async function openRestoreTarget(path: string, options: { overwrite: boolean; stdout?: Writable }): Promise<RestoreTarget> {
  if (path === '-') return new StreamRestoreTarget(options.stdout ?? process.stdout);
  const kind = await pathKind(path);
  if (kind === 'block-device') {
    if (!options.overwrite) {
      throw new SnapcloneError('OUTPUT_EXISTS', `${path} is a block device: restoring onto it destroys its content`, {
        kind: 'refused',
        path,
        hint: 'add --overwrite if you mean it',
      });
    }
    const t = new BlockDeviceRestoreTarget(path);
    await t.prepare();
    return t;
  }
  if (kind === 'directory' || kind === 'other') {
    throw new SnapcloneError('USAGE_BAD_TARGET', `${path} is not a regular file or a block device`, { kind: 'usage', path });
  }
  if (kind === 'file') await refuseMounted(path);
  const t = new FileRestoreTarget(path, options.overwrite);
  await t.prepare();
  return t;
}
