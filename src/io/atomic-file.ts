// "Nothing is lost": an output file is written under a hidden temporary name in the same directory,
// fsynced, and renamed over its final name only when complete. A failed or interrupted run leaves
// no file that looks complete. Pending temporaries are tracked so that signal handlers remove them.

import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { SnapcloneError } from '../core/errors.js';
import { ioError } from './source-file.js';

const pending = new Set<string>();

/** Removes every temporary file still pending (called on SIGINT/SIGTERM and fatal errors). */
export async function removePendingTemporaries(): Promise<string[]> {
  const removed = [...pending];
  pending.clear();
  await Promise.all(removed.map((p) => rm(p, { force: true, recursive: true })));
  return removed;
}

/** Same as removePendingTemporaries, for the synchronous 'exit' path. */
export function pendingTemporaries(): string[] {
  return [...pending];
}

export function temporaryNameFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.snapclone-${process.pid}-${randomBytes(3).toString('hex')}.tmp`);
}

/** Tracks a temporary path (file or directory) for removal if the process is interrupted. */
export function trackTemporary(path: string): void {
  pending.add(path);
}

export function untrackTemporary(path: string): void {
  pending.delete(path);
}

export interface AtomicFile {
  readonly finalPath: string;
  readonly temporaryPath: string;
  readonly handle: FileHandle;
  /**
   * A Writable that appends to the temporary file and leaves the handle open for commit().
   * (Not handle.createWriteStream({ autoClose: false }): that stream keeps a reference on the
   * handle after 'finish', so close() in commit() would never settle and the process would exit
   * with the output still under its temporary name.)
   */
  writable(): Writable;
  /** fsync, rename into place, fsync the directory. */
  commit(): Promise<void>;
  /** Close and delete the temporary file. Safe to call after commit (does nothing then). */
  abort(): Promise<void>;
}

/**
 * Creates a temporary file beside `finalPath`. Refuses when `finalPath` exists unless `overwrite`.
 * `mode` defaults to 0o644 minus umask, as fopen("w") gives.
 */
export async function createAtomicFile(
  finalPath: string,
  options: { overwrite?: boolean; mode?: number } = {},
): Promise<AtomicFile> {
  if (!options.overwrite) await refuseExisting(finalPath);
  const temporaryPath = temporaryNameFor(finalPath);
  let handle: FileHandle;
  try {
    handle = await open(temporaryPath, 'wx', options.mode ?? 0o644);
  } catch (e) {
    throw ioError(e, temporaryPath, 'create');
  }
  trackTemporary(temporaryPath);
  let finished = false;
  return {
    finalPath,
    temporaryPath,
    handle,
    writable() {
      return new Writable({
        highWaterMark: 1 << 20,
        write(chunk: Uint8Array, _encoding, callback) {
          writeAll(handle, chunk).then(
            () => callback(),
            (e: unknown) => callback(ioError(e, temporaryPath, 'write')),
          );
        },
      });
    },
    async commit() {
      if (finished) return;
      try {
        await handle.sync();
      } catch (e) {
        throw ioError(e, temporaryPath, 'sync');
      }
      await handle.close();
      finished = true;
      if (!options.overwrite) await refuseExisting(finalPath);
      try {
        await rename(temporaryPath, finalPath);
      } catch (e) {
        await rm(temporaryPath, { force: true });
        untrackTemporary(temporaryPath);
        throw ioError(e, finalPath, 'rename the finished output to');
      }
      untrackTemporary(temporaryPath);
      await syncDirectory(dirname(finalPath));
    },
    async abort() {
      if (finished) return;
      finished = true;
      await handle.close().catch(() => {});
      await rm(temporaryPath, { force: true });
      untrackTemporary(temporaryPath);
    },
  };
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

export async function refuseExisting(path: string): Promise<void> {
  try {
    await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError(e, path, 'stat');
  }
  throw new SnapcloneError('OUTPUT_EXISTS', `output file '${path}' already exists`, {
    kind: 'refused',
    path,
    hint: 'use --overwrite to replace it',
  });
}

/** fsync a directory so that a rename in it survives a power loss. */
export async function syncDirectory(path: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await open(path, 'r');
    await h.sync();
  } catch (e) {
    // Some file systems (and FUSE) refuse fsync on directories with EINVAL; the rename is done.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EBADF') throw ioError(e, path, 'sync directory');
  } finally {
    await h?.close();
  }
}
