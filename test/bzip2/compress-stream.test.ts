// createCompressStream: one bzip2 stream whatever the thread count and chunking (identical bytes),
// readable by the real tools, bounded when the consumer is slow, clean on errors and destroy.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressBuffer } from '../../src/bzip2/compress-buffer.js';
import { createCompressStream, type CompressOptions } from '../../src/bzip2/compress-stream.js';
import { liveCompressWorkers } from '../../src/bzip2/parallel/compress-pool.js';
import { concatBytes, randomBytes, randomChunks, textBytes } from './support/inputs.js';
import { readTestNtfsImage } from './support/ntfs-image.js';
import { PEERS, peerDecompress } from './support/peers.js';

async function streamCompress(chunks: Iterable<Uint8Array>, options: CompressOptions): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    createCompressStream(options),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

async function waitForWorkersToExit(): Promise<void> {
  for (let i = 0; i < 200 && liveCompressWorkers() > 0; i++) await sleep(25);
  expect(liveCompressWorkers()).toBe(0);
}

let mixed: Uint8Array;
let mixedLevel2: Buffer;
beforeAll(() => {
  const image = readTestNtfsImage();
  // About 2 MB: at level 1 that is 20 blocks, enough to interleave two workers.
  mixed = concatBytes(image.subarray(0, 1_300_000), textBytes(400_000, 21), randomBytes(200_000, 22), new Uint8Array(200_000));
  mixedLevel2 = Buffer.from(compressBuffer(mixed, { level: 2 }));
});

describe('createCompressStream', () => {
  it('writes the same bytes as compressBuffer with 1, 2 and 3 threads, and the peers read them', async () => {
    const expected = Buffer.from(compressBuffer(mixed, { level: 1 }));
    for (const threads of [1, 2, 3]) {
      const got = await streamCompress([mixed.subarray(0, 1_000_000), mixed.subarray(1_000_000)], { level: 1, threads });
      expect(Buffer.compare(got, expected), `threads ${threads}`).toBe(0);
    }
    for (const peer of PEERS) expect(Buffer.compare(await peerDecompress(peer, expected), Buffer.from(mixed))).toBe(0);
    await waitForWorkersToExit();
  });

  it('does not depend on chunk boundaries: 1-byte chunks', async () => {
    const input = mixed.subarray(0, 260_000); // 3 blocks at level 1
    const expected = Buffer.from(compressBuffer(input, { level: 1 }));
    const oneByte = function* (): Generator<Uint8Array> {
      for (let i = 0; i < input.length; i++) yield input.subarray(i, i + 1);
    };
    expect(Buffer.compare(await streamCompress(oneByte(), { level: 1, threads: 2 }), expected)).toBe(0);
    expect(Buffer.compare(await streamCompress(oneByte(), { level: 1, threads: 1 }), expected)).toBe(0);
    await waitForWorkersToExit();
  });

  it.each([1, 2, 3])('does not depend on chunk boundaries: random chunking, seed %i', async (seed) => {
    const got = await streamCompress(randomChunks(mixed, 300_000, seed), { level: 2, threads: 2 });
    expect(Buffer.compare(got, mixedLevel2)).toBe(0);
    await waitForWorkersToExit();
  });

  it('handles empty input and a single byte, with and without workers', async () => {
    for (const threads of [1, 2]) {
      expect(Buffer.compare(await streamCompress([], { threads }), Buffer.from(compressBuffer(new Uint8Array(0))))).toBe(0);
      const one = Uint8Array.of(0xff);
      expect(Buffer.compare(await streamCompress([one], { threads }), Buffer.from(compressBuffer(one)))).toBe(0);
    }
  });

  it('stops reading input while its output is not consumed', async () => {
    const level = 1;
    let produced = 0;
    const source = new Readable({
      read() {
        const chunk = randomBytes(65_536, produced);
        produced += chunk.length;
        this.push(chunk);
      },
    });
    const stream = createCompressStream({ level, threads: 2 });
    source.pipe(stream);
    // Nobody reads `stream`: production must stall after a few blocks in flight and the buffers.
    await sleep(1500);
    const stalledAt = produced;
    await sleep(700);
    expect(produced).toBe(stalledAt);
    // 2 blocks per thread in flight, the splitter's own block, the readable buffer, the pipe's
    // and the writable buffer: far below 2 MB with 100 kB blocks.
    expect(produced).toBeLessThan(2_000_000);
    source.unpipe(stream);
    source.destroy();
    stream.destroy();
    await waitForWorkersToExit();
  });

  it('starts its workers before any input when told the input spans several blocks, and not otherwise', async () => {
    const small = createCompressStream({ level: 1, threads: 2, inputBytes: 90_000 });
    expect(liveCompressWorkers()).toBe(0);
    small.destroy();
    const input = mixed.subarray(0, 450_000);
    const stream = createCompressStream({ level: 1, threads: 2, inputBytes: input.length });
    expect(liveCompressWorkers()).toBeGreaterThan(0);
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    const ended = new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject));
    stream.end(input);
    await ended;
    expect(Buffer.compare(Buffer.concat(out), Buffer.from(compressBuffer(input, { level: 1 })))).toBe(0);
    await waitForWorkersToExit();
  });

  it('terminates its workers when destroyed mid-stream', async () => {
    const stream = createCompressStream({ level: 1, threads: 2 });
    stream.write(mixed.subarray(0, 1_500_000));
    stream.resume();
    await sleep(50);
    expect(liveCompressWorkers()).toBeGreaterThan(0);
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.destroy();
    await closed;
    await waitForWorkersToExit();
  });

  it.each([
    [{ level: 0 }, 'BZ2_BAD_LEVEL'],
    [{ level: 10 }, 'BZ2_BAD_LEVEL'],
    [{ level: 2.5 }, 'BZ2_BAD_LEVEL'],
    [{ threads: 0 }, 'BZ2_BAD_THREADS'],
    [{ threads: 1.5 }, 'BZ2_BAD_THREADS'],
  ] as const)('rejects %j with %s', (options, code) => {
    expect(() => createCompressStream(options)).toThrow(expect.objectContaining({ code, kind: 'usage' }));
  });
});

describe('CompressPool', () => {
  it('reports a block that fails in a worker as BZ2_WORKER_FAILED and stops its workers', async () => {
    const { CompressPool } = await import('../../src/bzip2/parallel/compress-pool.js');
    const failure = await new Promise<unknown>((resolve) => {
      const pool = new CompressPool({ level: 1 }, 1, () => resolve(new Error('unexpected result')), resolve);
      // More post-RLE1 bytes than a level-1 block may hold: the worker's encoder refuses it.
      pool.submit(0, new Uint8Array(200_000), 150_000, 0);
    });
    expect(failure).toMatchObject({ code: 'BZ2_WORKER_FAILED', kind: 'internal' });
    await waitForWorkersToExit();
  });

  it('lends block buffers (shared or copied), never detaches them, and hands each back with its block', async () => {
    const { CompressPool, sharedBlockBuffer } = await import('../../src/bzip2/parallel/compress-pool.js');
    const { blockBufferBytes } = await import('../../src/bzip2/rle1.js');
    const { BlockCompressor } = await import('../../src/bzip2/compress-block.js');
    const content = textBytes(60_000, 7);
    const blocks = [sharedBlockBuffer(blockBufferBytes(1)), new Uint8Array(blockBufferBytes(1))];
    for (const b of blocks) b.set(content);
    const results = await new Promise<{ seq: number; compressed: Uint8Array; buffer: Uint8Array }[]>((resolve, reject) => {
      const got: { seq: number; compressed: Uint8Array; buffer: Uint8Array }[] = [];
      const pool = new CompressPool({ level: 1 }, 2, (r) => {
        got.push(r);
        if (got.length === blocks.length) void pool.terminate().then(() => resolve(got));
      }, reject);
      blocks.forEach((b, seq) => pool.submit(seq, b, content.length, 0x1234));
    });
    const expected = new BlockCompressor(1, { alignBlocks: true }).compressAlignedBlock(blocks[1]!.slice(), content.length, 0x1234);
    for (const r of results) {
      expect(r.buffer).toBe(blocks[r.seq]);
      expect(r.buffer.byteLength).toBe(blockBufferBytes(1)); // not detached
      expect(Buffer.compare(r.compressed, expected)).toBe(0);
    }
    await waitForWorkersToExit();
  });
});

describe('defaultThreadCount', () => {
  it('is one per core, but no more than fit in 250 MB', async () => {
    const { availableParallelism } = await import('node:os');
    const { defaultThreadCount } = await import('../../src/bzip2/parallel/compress-pool.js');
    for (const level of [1, 5, 9]) {
      const t = defaultThreadCount(level);
      expect(t).toBeGreaterThanOrEqual(1);
      expect(t).toBeLessThanOrEqual(availableParallelism());
    }
    expect(defaultThreadCount(9)).toBeLessThanOrEqual(7);
    expect(defaultThreadCount(1)).toBeGreaterThanOrEqual(defaultThreadCount(9));
  });
});
