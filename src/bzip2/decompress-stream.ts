// Streaming bzip2 decompression (node:stream Transform). Placeholder until the decoder lands (issue 3).

import type { Transform } from 'node:stream';
import { SnapcloneError, type WarnFn } from '../core/errors.js';

export interface DecompressOptions {
  /** Worker threads; default one per core. 1 decodes on the calling thread. */
  threads?: number;
  /** Called for recoverable anomalies, such as trailing garbage after the last stream. */
  onWarning?: WarnFn;
}

export function createDecompressStream(_options: DecompressOptions = {}): Transform {
  throw new SnapcloneError('BZ2_UNAVAILABLE', 'bzip2 decompression is not built yet', { kind: 'internal' });
}
