// Opening a regular file or a block device for positional reads, and measuring its size the way
// ntfsclone does (exact file size; BLKGETSIZE64 for devices, read here from sysfs).

import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { SnapcloneError } from '../core/errors.js';
import type { ReadAt, WriteAt } from '../core/read-at.js';

export type SourceKind = 'file' | 'block-device';

/** An open file or block device: ReadAt (and WriteAt when opened for writing) with its kind. */
export class SourceFile implements ReadAt, WriteAt {
  private constructor(
    readonly path: string,
    readonly handle: FileHandle,
    readonly kind: SourceKind,
    public sizeBytes: number,
    readonly stats: Stats,
  ) {}

  /** Opens `path` read-only (or read-write with `writable`) and measures it. */
  static async open(path: string, options: { writable?: boolean } = {}): Promise<SourceFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, options.writable ? 'r+' : 'r');
    } catch (e) {
      throw ioError(e, path, options.writable ? 'open for writing' : 'open');
    }
    try {
      const st = await handle.stat();
      if (st.isDirectory()) {
        throw new SnapcloneError('IO_IS_DIRECTORY', `${path} is a directory, not a file or device`, {
          kind: 'usage',
          path,
        });
      }
      const kind: SourceKind = st.isBlockDevice() ? 'block-device' : 'file';
      const sizeBytes = kind === 'file' ? st.size : await blockDeviceSizeBytes(handle, st);
      return new SourceFile(path, handle, kind, sizeBytes, st);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async readAt(target: Uint8Array, byteOffset: number): Promise<number> {
    let done = 0;
    // read(2) may return short counts on devices and pipes-backed files; loop until EOF.
    while (done < target.byteLength) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.handle.read(target, done, target.byteLength - done, byteOffset + done));
      } catch (e) {
        throw ioError(e, this.path, `read ${target.byteLength} bytes at offset ${byteOffset + done}`);
      }
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  async writeAt(source: Uint8Array, byteOffset: number): Promise<void> {
    let done = 0;
    while (done < source.byteLength) {
      let n: number;
      try {
        ({ bytesWritten: n } = await this.handle.write(source, done, source.byteLength - done, byteOffset + done));
      } catch (e) {
        throw ioError(e, this.path, `write ${source.byteLength} bytes at offset ${byteOffset + done}`);
      }
      done += n;
    }
    if (this.kind === 'file' && byteOffset + source.byteLength > this.sizeBytes) {
      this.sizeBytes = byteOffset + source.byteLength;
    }
  }

  async sync(): Promise<void> {
    try {
      await this.handle.sync();
    } catch (e) {
      throw ioError(e, this.path, 'sync');
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Size of a block device in bytes: sysfs first, then a binary search with 1-byte reads. */
export async function blockDeviceSizeBytes(handle: FileHandle, st: Stats): Promise<number> {
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & 0xfff00) >>> 0);
  try {
    const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim());
    if (Number.isSafeInteger(sectors) && sectors >= 0) return sectors * 512;
  } catch {
    // no sysfs (containers): fall through to probing
  }
  return probeSizeBytes(handle);
}

/** The exact readable size, found by a binary search over 1-byte reads (ntfsclone's method). */
export async function probeSizeBytes(handle: FileHandle): Promise<number> {
  const one = new Uint8Array(1);
  const readable = async (pos: number): Promise<boolean> => (await handle.read(one, 0, 1, pos)).bytesRead === 1;
  if (!(await readable(0))) return 0;
  let low = 0; // readable
  let high = 1;
  while (await readable(high)) {
    low = high;
    high *= 2;
    if (high > Number.MAX_SAFE_INTEGER / 2) break;
  }
  while (high - low > 1) {
    const mid = low + Math.floor((high - low) / 2);
    if (await readable(mid)) low = mid;
    else high = mid;
  }
  return low + 1;
}

/** What is at `path`: 'missing', 'file', 'block-device', 'directory' or 'other'. */
export async function pathKind(path: string): Promise<'missing' | 'file' | 'block-device' | 'directory' | 'other'> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw ioError(e, path, 'stat');
  }
  if (st.isFile()) return 'file';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isDirectory()) return 'directory';
  return 'other';
}

/** Wraps an errno failure in a SnapcloneError that names the file and what was being done. */
export function ioError(e: unknown, path: string, action: string): SnapcloneError {
  if (e instanceof SnapcloneError) return e;
  const errno = (e as NodeJS.ErrnoException).code ?? 'EIO';
  const hints: Record<string, string> = {
    ENOENT: 'check the path',
    EACCES: 'run as root or fix the permissions',
    EPERM: 'run as root or fix the permissions',
    ENOSPC: 'free space on the destination or choose another one',
    EROFS: 'the destination is read-only',
    EBUSY: 'the device is in use (mounted or mapped); stop what uses it',
    EIO: 'the device reported a read/write error: check the hardware and the kernel log',
  };
  return new SnapcloneError(`IO_${errno}`, `cannot ${action} ${path}: ${(e as Error).message}`, {
    kind: errno === 'ENOENT' ? 'usage' : 'io',
    path,
    hint: hints[errno],
    cause: e,
  });
}
