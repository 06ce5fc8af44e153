// Builds one backup set on disk, crash-safely: a hidden temporary directory (journaled as a resource,
// removed on SIGINT/SIGTERM), every file written with its SHA-256 and size computed on the way and
// fsynced, manifest.json last, the directory fsynced, then renamed into place and the parent fsynced.
// A set that is not complete never carries its final name. Spec: issue 5 (prompts), "The set".

import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SnapcloneError } from '../core/errors.js';
import { syncDirectory } from '../io/atomic-file.js';
import { onShutdown } from '../io/shutdown.js';
import { ioError } from '../io/source-file.js';
import { writeFully } from '../io/write-fully.js';
import { encodeManifest, MANIFEST_FILE, type Manifest, type ManifestFile } from './manifest.js';
import type { ResourceJournal } from './resource-journal.js';
import { currentOwner } from './process-owner.js';
import { parseSetName, setName, temporarySetName } from './set-name.js';

/**
 * Written first into a set being built, removed just before it is named: who builds it (pid, start
 * time, host), so that `list` and `cleanup --dest` can tell a dead run's leftover from a live run's
 * set, also on a destination shared by several hosts.
 */
export const OWNER_FILE = '.snapclone-owner.json';

/** Backups hold whole disks, secrets included: readable by their owner only. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** A set's name says when it was taken to the second; two sets of one label in one second move on. */
const MAX_NAME_BUMPS = 3600;

export interface SetWriterOptions {
  /** The destination directory (DIR of --dest); created if missing. */
  destDir: string;
  label: string;
  /** When the backup started: the set's name carries it. */
  startedAt: Date;
  /** The run's journal: the temporary directory is listed there while it exists. */
  journal?: ResourceJournal;
}

export class SetWriter {
  private readonly files: ManifestFile[] = [];
  private finished = false;
  private unregisterShutdown: (() => void) | undefined;

  private constructor(
    readonly destDir: string,
    readonly label: string,
    readonly startedAt: Date,
    /** The hidden directory the set is built in. */
    readonly temporaryPath: string,
    private readonly journal: ResourceJournal | undefined,
    private readonly journalId: number | undefined,
  ) {}

  /** Creates the temporary directory (journaled first, so a kill at any point leaves it listed). */
  static async create(options: SetWriterOptions): Promise<SetWriter> {
    const { destDir, label, startedAt, journal } = options;
    const intendedName = setName(label, startedAt);
    try {
      await mkdir(destDir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw ioError(e, destDir, 'create the destination directory');
    }
    const temporaryPath = join(destDir, temporarySetName(intendedName, process.pid));
    const id = journal ? await journal.intend({ type: 'temp-dir', path: temporaryPath }) : undefined;
    const writer = new SetWriter(destDir, label, startedAt, temporaryPath, journal, id);
    writer.unregisterShutdown = onShutdown(`unfinished set ${temporaryPath}`, () => writer.abort());
    try {
      await mkdir(temporaryPath, { mode: DIR_MODE });
      const owner = await open(join(temporaryPath, OWNER_FILE), 'wx', FILE_MODE);
      try {
        await owner.writeFile(`${JSON.stringify({ owner: await currentOwner(), startedAt: startedAt.toISOString() })}\n`);
      } finally {
        await owner.close();
      }
    } catch (e) {
      await writer.abort();
      throw ioError(e, temporaryPath, 'create the set directory');
    }
    if (journal && id !== undefined) await journal.created(id);
    return writer;
  }

  /** The files written so far, in order. */
  get writtenFiles(): readonly ManifestFile[] {
    return this.files;
  }

  /**
   * Writes `name` from a stream of chunks (pipeline: every stage's error rejects), fsyncs it, and
   * records its size and SHA-256. `signal` aborts the write (the snapshot watcher).
   */
  async writeStream(name: string, source: NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: { transforms?: NodeJS.ReadWriteStream[]; signal?: AbortSignal } = {}): Promise<ManifestFile> {
    const sink = await this.openSink(name);
    try {
      const streams = [source, ...(options.transforms ?? []), sink.writable] as const;
      // pipeline() is typed for fixed arities; the spread list is checked at run time.
      await (pipeline as (...args: unknown[]) => Promise<void>)(...streams, options.signal ? { signal: options.signal } : {});
    } catch (e) {
      await sink.close();
      if (options.signal?.aborted && options.signal.reason instanceof SnapcloneError) throw options.signal.reason;
      throw e;
    }
    await sink.close();
    return this.record(name, sink.sizeBytes(), sink.digest());
  }

  /** Writes a small file from memory (the layout). */
  async writeBytes(name: string, bytes: Uint8Array): Promise<ManifestFile> {
    return this.writeStream(name, [bytes]);
  }

  /**
   * Writes manifest.json (listing every file written), fsyncs the directory and renames it to
   * LABEL-STAMP; a name taken by another set moves on by a second. Returns the final path.
   */
  async commit(manifest: Omit<Manifest, 'files'>): Promise<{ path: string; name: string; manifest: Manifest }> {
    if (this.finished) throw new SnapcloneError('SET_ALREADY_FINISHED', 'this set was already committed or aborted', { kind: 'internal' });
    const full: Manifest = { ...manifest, files: [...this.files] };
    const manifestPath = join(this.temporaryPath, MANIFEST_FILE);
    const bytes = new TextEncoder().encode(encodeManifest(full));
    let handle: FileHandle | undefined;
    try {
      handle = await open(manifestPath, 'wx', FILE_MODE);
      await writeFully(handle, bytes, 0, manifestPath);
      await handle.sync();
    } catch (e) {
      throw ioError(e, manifestPath, 'write');
    } finally {
      await handle?.close();
    }
    await rm(join(this.temporaryPath, OWNER_FILE), { force: true });
    await syncDirectory(this.temporaryPath);
    const name = await this.freeName();
    const finalPath = join(this.destDir, name);
    try {
      await rename(this.temporaryPath, finalPath);
    } catch (e) {
      throw ioError(e, finalPath, 'rename the finished set to');
    }
    this.finished = true;
    this.unregisterShutdown?.();
    await syncDirectory(this.destDir);
    if (this.journal && this.journalId !== undefined) await this.journal.removed(this.journalId);
    return { path: finalPath, name, manifest: full };
  }

  /** Removes the temporary directory and everything in it (on failure or interruption). */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.unregisterShutdown?.();
    await rm(this.temporaryPath, { recursive: true, force: true });
    if (this.journal && this.journalId !== undefined) await this.journal.removed(this.journalId).catch(() => {});
  }

  private record(name: string, sizeBytes: number, sha256: string): ManifestFile {
    const f = { name, sizeBytes, sha256 };
    this.files.push(f);
    return f;
  }

  /** LABEL-STAMP for the start time, or the next free second after it. */
  private async freeName(): Promise<string> {
    for (let bump = 0; bump <= MAX_NAME_BUMPS; bump++) {
      const name = setName(this.label, new Date(this.startedAt.getTime() + bump * 1000));
      if (!parseSetName(name)) break;
      try {
        await stat(join(this.destDir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return name;
        throw ioError(e, join(this.destDir, name), 'stat');
      }
    }
    throw new SnapcloneError('SET_NAME_TAKEN', `no free set name for label ${this.label} near ${this.startedAt.toISOString()}`, {
      kind: 'refused',
      path: this.destDir,
    });
  }

  private async openSink(name: string): Promise<HashingFileSink> {
    if (this.finished) throw new SnapcloneError('SET_ALREADY_FINISHED', 'this set was already committed or aborted', { kind: 'internal' });
    if (this.files.some((f) => f.name === name) || name === MANIFEST_FILE || name.includes('/')) {
      throw new SnapcloneError('SET_BAD_FILE_NAME', `cannot add ${name} to the set`, { kind: 'internal' });
    }
    const path = join(this.temporaryPath, name);
    let handle: FileHandle;
    try {
      handle = await open(path, 'wx', FILE_MODE);
    } catch (e) {
      throw ioError(e, path, 'create');
    }
    return new HashingFileSink(handle, path);
  }
}

/** A Writable into a file at increasing offsets that hashes what it writes; fsyncs on end. */
class HashingFileSink {
  private readonly hash: Hash = createHash('sha256');
  private position = 0;
  private closed = false;
  readonly writable: Writable;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
  ) {
    this.writable = new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write: (chunk: Uint8Array, _encoding, callback) => {
        this.hash.update(chunk);
        const at = this.position;
        this.position += chunk.byteLength;
        writeFully(this.handle, chunk, at, this.path).then(() => callback(), callback);
      },
      final: (callback) => {
        this.handle.sync().then(
          () => callback(),
          (e: unknown) => callback(ioError(e, this.path, 'sync')),
        );
      },
    });
  }

  sizeBytes(): number {
    return this.position;
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => {});
  }
}
