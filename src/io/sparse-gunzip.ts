// Inflating a gzip'd disk or volume image into a sparse file: all-zero blocks become holes, so a
// mostly-empty 32 MiB volume takes a few MB on disk. Used by the demo (bundled volume).

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { isAllZero } from '../core/bytes.js';
import type { Progress } from '../core/progress.js';
import { createAtomicFile } from './atomic-file.js';
import { ioError } from './source-file.js';
import { writeFully } from './write-fully.js';

const BLOCK_BYTES = 64 * 1024;

/** Inflates `gzPath` into `outPath` (atomically; replaces it). Returns the inflated size. */
export async function gunzipToSparseFile(gzPath: string, outPath: string, progress?: Progress): Promise<number> {
  const out = await createAtomicFile(outPath, { overwrite: true });
  const block = new Uint8Array(BLOCK_BYTES);
  let fill = 0;
  let written = 0;
  const flush = async (): Promise<void> => {
    if (!isAllZero(block.subarray(0, fill))) await writeFully(out.handle, block.subarray(0, fill), written, out.temporaryPath);
    written += fill;
    fill = 0;
    progress?.update(written);
  };
  try {
    for await (const chunk of createReadStream(gzPath).pipe(createGunzip())) {
      const bytes = chunk as Uint8Array;
      for (let i = 0; i < bytes.byteLength; ) {
        const take = Math.min(bytes.byteLength - i, BLOCK_BYTES - fill);
        block.set(bytes.subarray(i, i + take), fill);
        fill += take;
        i += take;
        if (fill === BLOCK_BYTES) await flush();
      }
    }
    await flush();
    await out.handle.truncate(written);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw ioError(e, gzPath, 'inflate');
  }
  return written;
}
