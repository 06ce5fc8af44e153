// Where snapclone keeps its crash-safety state: per-source locks and per-run resource journals.
// Default /var/lib/snapclone for root (LVM needs root); for other users (backing up disk image files)
// $XDG_STATE_HOME/snapclone or ~/.local/state/snapclone. SNAPCLONE_STATE_DIR or --state-dir override it.

import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ioError } from '../io/source-file.js';

export const DEFAULT_STATE_DIR = '/var/lib/snapclone';
export const STATE_DIR_ENV = 'SNAPCLONE_STATE_DIR';

/** The option's value, else $SNAPCLONE_STATE_DIR, else /var/lib/snapclone (root) or the user's state directory. */
export function resolveStateDir(option?: string): string {
  return option ?? process.env[STATE_DIR_ENV] ?? defaultStateDir();
}

export function defaultStateDir(uid: number | undefined = process.getuid?.()): string {
  if (uid === 0 || uid === undefined) return DEFAULT_STATE_DIR;
  const xdg = process.env['XDG_STATE_HOME'];
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'state'), 'snapclone');
}

export function locksDir(stateDir: string): string {
  return join(stateDir, 'locks');
}

export function journalsDir(stateDir: string): string {
  return join(stateDir, 'journal');
}

/** Creates the state directory and its subdirectories, readable by root only. */
export async function ensureStateDir(stateDir: string): Promise<void> {
  for (const dir of [stateDir, locksDir(stateDir), journalsDir(stateDir)]) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw ioError(e, dir, 'create the state directory');
    }
  }
}
