// The whole disk a set is restored onto: a new regular file (sparse, under a temporary name until the
// restore is complete), or a block device such as an LV (opened exclusively, refused when it or one of
// its partitions is mounted). Positional reads and writes, sync, and commit or abort.
// Spec: issue 5 "restore".

import { constants, open, type FileHandle } from 'node:fs/promises';
import { SnapcloneError } from '../core/errors.js';
import type { ReadAt, WriteAt } from '../core/read-at.js';
import { createAtomicFile, type AtomicFile } from './atomic-file.js';
import { refuseMounted } from './mount-check.js';
import { blockDeviceSizeBytes, ioError } from './source-file.js';
import { writeFully } from './write-fully.js';

export class RestoreDisk implements ReadAt, WriteAt {
  private done = false;
  /** A temporary file is created write-only: reads back go through a second handle. */
  private reader: FileHandle | undefined;

  private constructor(
    readonly path: string,
    readonly kind: 'file' | 'block-device',
    readonly handle: FileHandle,
    readonly sizeBytes: number,
    /** True for a new file: every byte not written reads as zero (holes). */
    readonly fresh: boolean,
    private readonly atomic: AtomicFile | undefined,
  ) {}

  /** A new file of `sizeBytes` (sparse), renamed to `path` by commit(). */
  static async createFile(path: string, sizeBytes: number, options: { overwrite: boolean }): Promise<RestoreDisk> {
    const atomic = await createAtomicFile(path, { overwrite: options.overwrite, mode: 0o600 });
    try {
      await atomic.handle.truncate(sizeBytes);
    } catch (e) {
      await atomic.abort();
      throw ioError(e, path, `make room for ${sizeBytes} bytes in`);
    }
    return new RestoreDisk(path, 'file', atomic.handle, sizeBytes, true, atomic);
  }

  /** A block device, opened with O_EXCL (the kernel refuses it while mounted or held). */
  static async openDevice(path: string): Promise<RestoreDisk> {
    await refuseMounted(path);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDWR | constants.O_EXCL);
    } catch (e) {
      throw ioError(e, path, 'open for writing');
    }
    try {
      const st = await handle.stat();
      if (!st.isBlockDevice()) {
        throw new SnapcloneError('USAGE_BAD_TARGET', `${path} is not a block device`, { kind: 'usage', path });
      }
      return new RestoreDisk(path, 'block-device', handle, await blockDeviceSizeBytes(handle, st), false, undefined);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** Where the temporary file is, for a file target. */
  get workingPath(): string {
    return this.atomic?.temporaryPath ?? this.path;
  }

  async readAt(target: Uint8Array, byteOffset: number): Promise<number> {
    if (this.atomic && !this.reader) {
      try {
        this.reader = await open(this.atomic.temporaryPath, 'r');
      } catch (e) {
        throw ioError(e, this.atomic.temporaryPath, 'open for reading');
      }
    }
    const handle = this.reader ?? this.handle;
    let done = 0;
    while (done < target.byteLength) {
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(target, done, target.byteLength - done, byteOffset + done));
      } catch (e) {
        throw ioError(e, this.path, `read at offset ${byteOffset + done} of`);
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  async writeAt(source: Uint8Array, byteOffset: number): Promise<void> {
    if (byteOffset < 0 || byteOffset + source.byteLength > this.sizeBytes) {
      throw new SnapcloneError('IO_WRITE_OUT_OF_RANGE', `a write falls past the end of ${this.path}`, {
        kind: 'io',
        path: this.path,
        byteOffset,
        expected: `writes within ${this.sizeBytes} bytes`,
        actual: `${source.byteLength} bytes at ${byteOffset}`,
      });
    }
    await writeFully(this.handle, source, byteOffset, this.path);
  }

  async sync(): Promise<void> {
    try {
      await this.handle.sync();
    } catch (e) {
      throw ioError(e, this.path, 'sync');
    }
  }

  private async closeReader(): Promise<void> {
    const r = this.reader;
    this.reader = undefined;
    await r?.close().catch(() => {});
  }

  /** Syncs; a file is renamed into place. */
  async commit(): Promise<void> {
    if (this.done) return;
    await this.closeReader();
    if (this.atomic) {
      await this.atomic.commit();
    } else {
      await this.sync();
      await this.handle.close();
    }
    this.done = true;
  }

  /** A file is removed; a device is closed as it is (its first sectors were cleared first). */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.closeReader();
    if (this.atomic) await this.atomic.abort();
    else await this.handle.close().catch(() => {});
  }
}
