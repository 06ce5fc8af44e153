// An image read from a file, stdin or a pipe, whether raw or bzip2-compressed: the first bytes
// decide (bzip2's "BZh1".."BZh9" magic), so `restore-image x.img.bz2` and
// `cat x.img.bz2 | restore-image -` both work without a flag.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { WarnFn } from '../core/errors.js';
import { createDecompressStream, looksLikeBzip2 } from '../bzip2/index.js';

export interface ImageInput {
  /** The uncompressed image bytes. */
  chunks: AsyncIterable<Uint8Array>;
  compressed: boolean;
  /**
   * After the image consumer has stopped (ntfsclone stops at the last cluster): reads what is
   * left so that a compressed input's block and stream CRCs are all checked, then releases the
   * input. Returns the number of uncompressed bytes that followed the image.
   */
  finish(): Promise<number>;
  /** Releases the input early (on error). */
  destroy(): void;
}

export async function openImageInput(
  input: Readable,
  options: { threads?: number; onWarning?: WarnFn } = {},
): Promise<ImageInput> {
  const source = input[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const head: Uint8Array[] = [];
  let headBytes = 0;
  while (headBytes < 4) {
    const r = await source.next();
    if (r.done) break;
    head.push(r.value);
    headBytes += r.value.byteLength;
  }
  const first = new Uint8Array(Math.min(4, headBytes));
  let filled = 0;
  for (const h of head) {
    if (filled >= first.length) break;
    const take = h.subarray(0, first.length - filled);
    first.set(take, filled);
    filled += take.length;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* head;
    for (;;) {
      const r = await source.next();
      if (r.done) return;
      yield r.value;
    }
  }

  if (!looksLikeBzip2(first)) {
    const chunks = replay();
    return {
      chunks,
      compressed: false,
      async finish() {
        input.destroy();
        return 0;
      },
      destroy() {
        input.destroy();
      },
    };
  }

  const decompressor = createDecompressStream({ threads: options.threads, onWarning: options.onWarning });
  // Errors reach the consumer through the decompressor, which pipeline() destroys with them.
  pipeline(Readable.from(replay(), { objectMode: false }), decompressor).catch(() => {});
  // The consumer stops at the image's last cluster; its `break` must not destroy the
  // decompressor, because finish() goes on reading to check the CRCs of what follows.
  const output = decompressor[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const chunks: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: () => output.next(),
      return: async () => ({ done: true as const, value: undefined }),
    }),
  };
  return {
    chunks,
    compressed: true,
    async finish() {
      let rest = 0;
      try {
        for (let r = await output.next(); !r.done; r = await output.next()) rest += r.value.byteLength;
      } finally {
        input.destroy();
      }
      return rest;
    },
    destroy() {
      decompressor.destroy();
      input.destroy();
    },
  };
}
