// createDecompressStream's own behaviour: speculative decoding survives false-positive block magics,
// output is bounded while a block expands to 46 MB, byte-by-byte input works through the worker
// pool, workers are released when the stream ends or is destroyed, and bad options are refused.

import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PIECE_BYTES } from '../../src/bzip2/block-output.js';
import { BlockMagicScanner } from '../../src/bzip2/block-scanner.js';
import { decompressBuffer } from '../../src/bzip2/decompress-buffer.js';
import { createDecompressStream } from '../../src/bzip2/decompress-stream.js';
import { liveDecompressWorkers, poolStats } from '../../src/bzip2/parallel/decompress-pool.js';
import { HAVE_TESTDATA, testdataPath } from '../helpers/testdata.js';
import { concatBytes, rng, textBytes } from './support/inputs.js';
import { chunk, compressWith, decompressStream, sameBytes } from './support.js';

async function noWorkersLeft(): Promise<void> {
  for (let i = 0; i < 100 && liveDecompressWorkers() > 0; i++) await sleep(20);
  expect(liveDecompressWorkers()).toBe(0);
}

/**
 * Bytes whose set of distinct values spells the block magic in the block's symbol map: with all 16
 * groups in use, the map's second 16-bit word onwards is the byte-presence bitmap, so bytes 16..63
 * present exactly where the magic has 1 bits put a false block magic inside every block header.
 */
function magicInSymbolMap(n: number, seed: number): Uint8Array {
  const magic = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
  const values: number[] = [0];
  for (let k = 0; k < 48; k++) if ((magic[k >>> 3]! >>> (7 - (k & 7))) & 1) values.push(16 + k);
  for (let g = 4; g < 16; g++) values.push(g * 16 + 5);
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = values[Math.floor(r() * values.length)]!;
  return out;
}

describe('createDecompressStream', () => {
  it('drops false-positive block magics found inside blocks (threads 1 and 2)', async () => {
    const original = magicInSymbolMap(250_000, 1);
    const compressed = await compressWith('bzip2', ['-1'], original);
    const candidates: number[] = [];
    new BlockMagicScanner().scan(compressed, 0, compressed.length, candidates);
    // 3 real blocks, each with a false magic 137 bits after its own.
    expect(candidates.length).toBe(6);
    expect(candidates[1]! - candidates[0]!).toBe(48 + 32 + 1 + 24 + 16 + 16);
    const redone = poolStats.blocksRedoneInline;
    for (const threads of [1, 2]) {
      for (const how of ['whole', { seed: 5, max: 3000 }] as const) {
        const r = await decompressStream(chunk(compressed, how), threads, { workersAfterBytes: 0 });
        expect(r.error).toBeUndefined();
        expect(sameBytes(r.output, original)).toBe(true);
      }
    }
    // Each real block's speculative job ran out of input at the false magic and was redone.
    expect(poolStats.blocksRedoneInline - redone).toBeGreaterThanOrEqual(3);
    await noWorkersLeft();
  });

  it('reads a multi-block file fed one byte at a time through the worker pool', async () => {
    const original = textBytes(400_000, 3);
    const compressed = await compressWith('bzip2', ['-1'], original);
    const blocks: number[] = [];
    new BlockMagicScanner().scan(compressed, 0, compressed.length, blocks);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const before = { ...poolStats };
    const r = await decompressStream(chunk(compressed, 'bytes'), 2, { workersAfterBytes: 0 });
    expect(r.error).toBeUndefined();
    expect(sameBytes(r.output, original)).toBe(true);
    // Blocks came from the worker and from the main thread's speculative decoding, not fallbacks.
    expect(poolStats.blocksFromWorkers - before.blocksFromWorkers).toBeGreaterThanOrEqual(1);
    expect(poolStats.blocksFromWorkers + poolStats.blocksFromMainThread - before.blocksFromWorkers - before.blocksFromMainThread).toBe(blocks.length);
    expect(poolStats.blocksRedoneInline + poolStats.blocksInline - before.blocksRedoneInline - before.blocksInline).toBe(0);
    await noWorkersLeft();
  });

  it.skipIf(!HAVE_TESTDATA)('keeps memory bounded while one block expands to 46 MB (slow reader)', async () => {
    const input = readFileSync(testdataPath('bzip2', 'ch255.bz2'));
    for (const threads of [1, 2]) {
      const ds = createDecompressStream({ threads, workersAfterBytes: 0 });
      let total = 0;
      let maxPiece = 0;
      let maxBuffered = 0;
      await pipeline(
        Readable.from([input]),
        ds,
        new Writable({
          highWaterMark: 1,
          write(c: Buffer, _e, cb) {
            total += c.length;
            maxPiece = Math.max(maxPiece, c.length);
            maxBuffered = Math.max(maxBuffered, ds.readableLength);
            void tick().then(() => cb());
          },
        }),
      );
      expect(total).toBe(46_620_000);
      expect(maxPiece).toBeLessThanOrEqual(PIECE_BYTES);
      expect(maxBuffered).toBeLessThanOrEqual(ds.readableHighWaterMark + PIECE_BYTES);
    }
    await noWorkersLeft();
  });

  it('releases its workers when destroyed mid-stream', async () => {
    const original = concatBytes(textBytes(600_000, 4), new Uint8Array(3 << 20));
    const compressed = await compressWith('bzip2', ['-1'], original);
    const ds = createDecompressStream({ threads: 2, workersAfterBytes: 0 });
    const got: Buffer[] = [];
    ds.on('data', (c: Buffer) => {
      got.push(c);
      if (got.length === 1) ds.destroy();
    });
    const closed = new Promise((resolve) => ds.on('close', resolve));
    for (const piece of chunk(compressed, { seed: 1, max: 20_000 })) ds.write(piece);
    await closed;
    expect(got.length).toBeGreaterThan(0);
    expect(sameBytes(got[0]!, original.subarray(0, got[0]!.length))).toBe(true);
    await noWorkersLeft();
  });

  it('agrees with decompressBuffer on a many-block file, for 1..4 threads', async () => {
    const original = concatBytes(textBytes(300_000, 7), new Uint8Array(500_000), textBytes(300_000, 8));
    const compressed = await compressWith('bzip2', ['-1'], original);
    expect(sameBytes(decompressBuffer(compressed), original)).toBe(true);
    const blocks: number[] = [];
    new BlockMagicScanner().scan(compressed, 0, compressed.length, blocks);
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const threads of [1, 2, 3, 4]) {
      const fromWorkers = poolStats.blocksFromWorkers + poolStats.blocksFromMainThread;
      const r = await decompressStream(chunk(compressed, { seed: threads, max: 5000 }), threads, { workersAfterBytes: 0 });
      expect(r.error).toBeUndefined();
      expect(sameBytes(r.output, original)).toBe(true);
      // All blocks come from the workers and the main thread, none from a fallback.
      if (threads > 1) expect(poolStats.blocksFromWorkers + poolStats.blocksFromMainThread - fromWorkers).toBe(blocks.length);
    }
    await noWorkersLeft();
  });

  it('starts its workers before any input when told the input is large, not when it is small', async () => {
    const original = concatBytes(textBytes(400_000, 9), new Uint8Array(300_000));
    const compressed = await compressWith('bzip2', ['-1'], original);
    const small = createDecompressStream({ threads: 2, inputBytes: compressed.length });
    expect(liveDecompressWorkers()).toBe(0);
    small.destroy();
    const eager = createDecompressStream({ threads: 2, inputBytes: 4 << 20 });
    expect(liveDecompressWorkers()).toBeGreaterThan(0);
    const out: Buffer[] = [];
    eager.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((resolve, reject) => eager.on('end', resolve).on('error', reject));
    eager.end(compressed);
    await ended;
    expect(sameBytes(Buffer.concat(out), original)).toBe(true);
    await noWorkersLeft();
  });

  it('refuses a thread count that is not a positive integer', () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      expect(() => createDecompressStream({ threads })).toThrow(expect.objectContaining({ code: 'USAGE_BAD_THREADS' }));
    }
  });
});
