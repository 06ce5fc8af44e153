// Reads a state file (a lock, a journal) that is small by construction, refusing one that grew past a
// bound: a damaged or hostile state directory must not make snapclone allocate without limit.

import { open } from 'node:fs/promises';
import { SnapcloneError } from '../core/errors.js';

/** The whole file as UTF-8; SET_STATE_FILE_TOO_LARGE when it holds more than `maxBytes`. */
export async function readSmallFile(path: string, maxBytes: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const sizeBytes = (await handle.stat()).size;
    if (sizeBytes > maxBytes) {
      throw new SnapcloneError('SET_STATE_FILE_TOO_LARGE', `${path} is larger than a snapclone state file can be`, {
        kind: 'input',
        path,
        expected: `at most ${maxBytes} bytes`,
        actual: `${sizeBytes} bytes`,
        hint: 'inspect it; remove it by hand if no snapclone runs',
      });
    }
    const buffer = Buffer.alloc(sizeBytes);
    const { bytesRead } = await handle.read(buffer, 0, sizeBytes, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A lock holds one JSON record of a few hundred bytes. */
export const MAX_LOCK_BYTES = 64 * 1024;
/** A journal holds a few lines per resource; a run creates a handful of resources. */
export const MAX_JOURNAL_BYTES = 16 * 1024 * 1024;
