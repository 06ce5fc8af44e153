// Where snapclone keeps its crash-safety state: per-source locks and per-run resource journals.
// Default /var/lib/snapclone; SNAPCLONE_STATE_DIR or --state-dir override it (tests use temp dirs).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from '../io/source-file.js';

export const DEFAULT_STATE_DIR = '/var/lib/snapclone';
export const STATE_DIR_ENV = 'SNAPCLONE_STATE_DIR';

/** The option's value, else $SNAPCLONE_STATE_DIR, else /var/lib/snapclone. */
export function resolveStateDir(option?: string): string {
  return option ?? process.env[STATE_DIR_ENV] ?? DEFAULT_STATE_DIR;
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
