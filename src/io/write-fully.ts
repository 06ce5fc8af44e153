// Positional writes that finish: FileHandle.write may write less than asked (a signal, a pipe, some
// file systems), so the rest is written again until done; a failure names the file and the offset.

import type { FileHandle } from 'node:fs/promises';
import { ioError } from './source-file.js';

/** Writes all of `bytes` at `position` of the open file `path`, resuming after short writes. */
export async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    let n: number;
    try {
      ({ bytesWritten: n } = await handle.write(bytes, done, bytes.byteLength - done, position + done));
    } catch (e) {
      throw ioError(e, path, `write ${bytes.byteLength} bytes at offset ${position + done} of`);
    }
    done += n;
  }
}
