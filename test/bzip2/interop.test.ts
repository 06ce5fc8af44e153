// Files written by the real bzip2 (-1..-9), lbzip2 (blocks padded to bytes, runs of up to 259) and
// pbzip2 (one stream per block) decompress with ours to the exact input, through decompressBuffer()
// and the stream on 1 and 2 threads with random input chunking.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompressBuffer } from '../../src/bzip2/decompress-buffer.js';
import { makeTempDir } from '../helpers/tmp.js';
import { binaryBytes, concatBytes, periodicBytes, randomBytes, runBytes, textBytes } from './support/inputs.js';
import { chunk, compressWith, decompressStream, makeNtfscloneImage, sameBytes } from './support.js';

const inputs: Record<string, () => Uint8Array> = {
  empty: () => new Uint8Array(0),
  'one byte': () => Uint8Array.of(0x41),
  'zeros 3 MB': () => new Uint8Array(3 << 20),
  'random 600 kB': () => randomBytes(600_000, 1),
  'text 1 MB': () => textBytes(1 << 20, 2),
  'period 4, 1 MB': () => periodicBytes(1 << 20, randomBytes(4, 3)),
  'period 1000, 1 MB': () => periodicBytes(1 << 20, randomBytes(1000, 4)),
  'runs 1 MB': () => runBytes(1 << 20, 5),
  'program binary 1 MB': () => binaryBytes(1 << 20),
};

let ntfsImage: Uint8Array;
let mixed: Uint8Array;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  tmp = await makeTempDir('snapclone-bz2-interop-');
  ntfsImage = makeNtfscloneImage(tmp.dir);
  // A disk-image-like mix: text, binaries, zeros, random, runs, and real ntfsclone bytes.
  mixed = concatBytes(textBytes(300_000, 6), binaryBytes(400_000, 3 << 20), new Uint8Array(200_000), randomBytes(150_000, 7), runBytes(200_000, 8), ntfsImage.subarray(0, 300_000));
});
afterAll(() => tmp.cleanup());

async function expectRoundTrip(original: Uint8Array, compressed: Uint8Array, seed: number): Promise<void> {
  expect(sameBytes(decompressBuffer(compressed), original)).toBe(true);
  for (const threads of [1, 2]) {
    const r = await decompressStream(chunk(compressed, { seed, max: 200_000 }), threads);
    expect(r.error).toBeUndefined();
    expect(r.warnings).toEqual([]);
    expect(sameBytes(r.output, original)).toBe(true);
  }
}

describe('bzip2 decoder reads the peers\' output', () => {
  for (const level of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
    it(`bzip2 -${level} of a disk-image-like mix`, async () => {
      await expectRoundTrip(mixed, await compressWith('bzip2', [`-${level}`], mixed), level);
    });
  }

  it('bzip2 -9, lbzip2 and pbzip2 of an ntfsclone image made by the real tools', async () => {
    expect(ntfsImage.length).toBeGreaterThan(1 << 20);
    for (const [tool, args] of [['bzip2', ['-9']], ['lbzip2', ['-n2', '-9']], ['pbzip2', ['-p2', '-9']]] as const) {
      await expectRoundTrip(ntfsImage, await compressWith(tool, [...args], ntfsImage), 11);
    }
  });

  for (const [name, make] of Object.entries(inputs)) {
    it(`${name}: bzip2 -1/-9, lbzip2 -1/-9, pbzip2 -1/-9`, async () => {
      const original = make();
      for (const [tool, args] of [
        ['bzip2', ['-1']],
        ['bzip2', ['-9']],
        ['lbzip2', ['-n2', '-1']],
        ['lbzip2', ['-n2', '-9']],
        ['pbzip2', ['-p2', '-1']],
        ['pbzip2', ['-p2', '-9']],
      ] as const) {
        const compressed = await compressWith(tool, [...args], original);
        await expectRoundTrip(original, compressed, original.length);
      }
    });
  }

  it('pbzip2 writes one stream per block and we read them all', async () => {
    const compressed = await compressWith('pbzip2', ['-p2', '-1', '-b1'], mixed);
    let streams = 0;
    for (let i = 0; i + 4 <= compressed.length; i++) {
      if (compressed[i] === 0x42 && compressed[i + 1] === 0x5a && compressed[i + 2] === 0x68 && compressed[i + 3] === 0x31) streams++;
    }
    expect(streams).toBeGreaterThan(5);
    await expectRoundTrip(mixed, compressed, 3);
  });
});
