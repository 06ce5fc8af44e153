// What a destination directory holds: backup sets by name, each complete (a valid manifest whose
// files are all there at their sizes), damaged (a valid manifest, files missing or resized),
// incomplete (no valid manifest), or a hidden temporary of a run in progress or of a dead run.
// Used by `snapclone list` and by rotation, which only ever counts and deletes complete sets.

import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isSnapcloneError, SnapcloneError } from '../core/errors.js';
import { ioError } from '../io/source-file.js';
import { decodeManifest, MANIFEST_FILE, type Manifest } from './manifest.js';
import { ownerLiveness, parseOwner, type ProcessOwner } from './process-owner.js';
import { readSmallFile } from './read-small-file.js';
import { parseSetName, parseTemporarySetName } from './set-name.js';
import { OWNER_FILE } from './set-writer.js';

/** A manifest lists a few files per partition: far below this. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export type SetStatus = 'complete' | 'damaged' | 'incomplete' | 'in-progress' | 'abandoned';

export interface SetEntry {
  /** The directory's name in DIR. */
  name: string;
  path: string;
  label: string;
  /** The time in the name (UTC). */
  date: Date;
  status: SetStatus;
  /** Bytes of the files in the set (the manifest's sizes when complete, else what is on disk). */
  sizeBytes: number;
  manifest?: Manifest;
  /** Why the set is not complete. */
  problem?: { code: string; message: string };
  /** For temporaries: the pid of the run that built (or was deleting) it. */
  pid?: number;
}

/** Reads and validates DIR/NAME/manifest.json. */
export async function readManifest(setPath: string): Promise<Manifest> {
  const path = join(setPath, MANIFEST_FILE);
  let text: string;
  try {
    text = await readSmallFile(path, MAX_MANIFEST_BYTES);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SnapcloneError('SET_NO_MANIFEST', `${setPath} has no ${MANIFEST_FILE}: the set is incomplete`, {
        kind: 'input',
        path,
        hint: 'a backup that did not finish, or a damaged set; it cannot be trusted',
      });
    }
    if (isSnapcloneError(e)) throw e.code === 'SET_STATE_FILE_TOO_LARGE' ? new SnapcloneError('SET_BAD_MANIFEST', 'the manifest is far too large', { path, cause: e }) : e;
    throw ioError(e, path, 'read');
  }
  try {
    return decodeManifest(text);
  } catch (e) {
    throw isSnapcloneError(e) ? e.withPath(path) : e;
  }
}

/**
 * Every file of the manifest must exist in the set with its recorded size. Throws SET_FILE_MISSING
 * or SET_FILE_SIZE naming the first one that does not (cheap: one stat per file, no reading).
 */
export async function checkSetFiles(setPath: string, manifest: Manifest): Promise<void> {
  for (const f of manifest.files) {
    const path = join(setPath, f.name);
    let sizeBytes: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new SnapcloneError('SET_FILE_MISSING', `${f.name} in ${setPath} is not a regular file`, { kind: 'input', path });
      sizeBytes = st.size;
    } catch (e) {
      if (isSnapcloneError(e)) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new SnapcloneError('SET_FILE_MISSING', `${f.name} is missing from the set ${setPath}`, { kind: 'input', path, expected: `${f.sizeBytes} bytes`, actual: 'no file' });
      }
      throw ioError(e, path, 'stat');
    }
    if (sizeBytes !== f.sizeBytes) {
      throw new SnapcloneError('SET_FILE_SIZE', `${f.name} in ${setPath} does not have the size the manifest records`, {
        kind: 'verify',
        path,
        expected: `${f.sizeBytes} bytes`,
        actual: `${sizeBytes} bytes`,
      });
    }
  }
}

/** The sets and temporaries in `destDir`, newest first. A missing directory holds none. */
export async function listSets(destDir: string): Promise<SetEntry[]> {
  let names: string[];
  try {
    names = await readdir(destDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(e, destDir, 'list the sets in');
  }
  const host = hostname();
  const entries: SetEntry[] = [];
  for (const name of names) {
    const path = join(destDir, name);
    const final = parseSetName(name);
    if (final) {
      if (!(await isDirectory(path))) continue;
      entries.push(await inspectSet(name, path, final.label, final.date));
      continue;
    }
    const temporary = parseTemporarySetName(name);
    if (temporary && (await isDirectory(path))) {
      const parsed = parseSetName(temporary.finalName)!;
      // The owner file says who builds the set (pid, start time, host); a set being deleted by
      // rotation has none: its name's pid, on this host, is all there is.
      const owner = (await readOwner(path)) ?? { pid: temporary.pid, hostname: host };
      const liveness = await ownerLiveness(owner);
      const where = liveness === 'other-host' ? ` on host ${owner.hostname}` : '';
      entries.push({
        name,
        path,
        label: parsed.label,
        date: parsed.date,
        status: liveness === 'dead' ? 'abandoned' : 'in-progress',
        sizeBytes: await directoryBytes(path),
        pid: owner.pid,
        problem:
          liveness === 'dead'
            ? { code: 'SET_ABANDONED', message: `left by pid ${owner.pid}, which is gone; \`snapclone cleanup --dest\` removes it` }
            : { code: 'SET_IN_PROGRESS', message: `being written (or deleted) by pid ${owner.pid}${where}` },
      });
    }
  }
  return entries.sort((a, b) => b.date.getTime() - a.date.getTime() || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

async function inspectSet(name: string, path: string, label: string, date: Date): Promise<SetEntry> {
  let manifest: Manifest;
  try {
    manifest = await readManifest(path);
  } catch (e) {
    return { name, path, label, date, status: 'incomplete', sizeBytes: await directoryBytes(path), problem: problemOf(e) };
  }
  const sizeBytes = manifest.files.reduce((n, f) => n + f.sizeBytes, 0);
  if (manifest.label !== label) {
    return { name, path, label, date, status: 'damaged', sizeBytes, manifest, problem: { code: 'SET_LABEL_MISMATCH', message: `the manifest says label ${manifest.label}` } };
  }
  try {
    await checkSetFiles(path, manifest);
  } catch (e) {
    return { name, path, label, date, status: 'damaged', sizeBytes, manifest, problem: problemOf(e) };
  }
  return { name, path, label, date, status: 'complete', sizeBytes, manifest };
}

async function readOwner(setPath: string): Promise<ProcessOwner | undefined> {
  try {
    const v = JSON.parse(await readSmallFile(join(setPath, OWNER_FILE), 64 * 1024)) as { owner?: unknown };
    return parseOwner(v.owner);
  } catch {
    return undefined;
  }
}

function problemOf(e: unknown): { code: string; message: string } {
  if (isSnapcloneError(e)) return { code: e.code, message: e.message };
  return { code: 'SET_UNREADABLE', message: e instanceof Error ? e.message : String(e) };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The bytes of the regular files directly in `dir` (sets have no subdirectories). */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for (const name of await readdir(dir)) {
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st?.isFile() && name !== OWNER_FILE) total += st.size;
    }
  } catch {
    // removed meanwhile (a run finishing or cleaning up)
  }
  return total;
}
