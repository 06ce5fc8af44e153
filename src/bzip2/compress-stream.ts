// Streaming bzip2 compression (node:stream Transform). Placeholder until the encoder lands (issue 3).

import type { Transform } from 'node:stream';
import { SnapcloneError } from '../core/errors.js';

export interface CompressOptions {
  /** 1..9: block size in units of 100 000 bytes, as bzip2 -1..-9. Default 9. */
  level?: number;
  /** Worker threads; default one per core. 1 compresses on the calling thread. */
  threads?: number;
}

export function createCompressStream(_options: CompressOptions = {}): Transform {
  throw new SnapcloneError('BZ2_UNAVAILABLE', 'bzip2 compression is not built yet', { kind: 'internal' });
}
