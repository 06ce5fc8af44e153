// The encoder against the real tools: without padding its output must equal `bzip2 -N` byte for
// byte; with padding (the default, what the parallel stream writes) bzip2, lbzip2, pbzip2,
// seek-bzip and unbzip2-stream must all give back the exact input.

import { beforeAll, describe, expect, it } from 'vitest';
import { compressBuffer } from '../../src/bzip2/compress-buffer.js';
import { Rle1Splitter } from '../../src/bzip2/rle1.js';
import {
  concatBytes,
  fibonacciWord,
  nearPeriodicBytes,
  periodicBytes,
  randomBytes,
  runAfterPrefix,
  textBytes,
} from './support/inputs.js';
import { readTestNtfsImage } from './support/ntfs-image.js';
import { bzip2BlockReport, bzip2Compress, PEERS, peerDecompress, seekBzipDecode, unbzip2StreamDecode } from './support/peers.js';

let image: Buffer;
beforeAll(() => {
  image = readTestNtfsImage();
});

function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  // Compare as Buffers: a failure then reports the first differing region, not 10^6 elements.
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected))).toBe(0);
}

describe('unpadded output is bzip2 -N, byte for byte', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9])('ntfsclone image slice at level %i', async (level) => {
    const input = image.subarray(0, 1_300_000);
    const ours = compressBuffer(input, { level, alignBlocks: false });
    expectSameBytes(ours, await bzip2Compress(input, level));
  });

  it('the whole ntfsclone image at level 9', async () => {
    expect(image.length).toBeGreaterThan(3_000_000);
    expectSameBytes(compressBuffer(image, { level: 9, alignBlocks: false }), await bzip2Compress(image, 9));
  });

  it.each([
    ['text', () => textBytes(700_000, 1), 9],
    ['random bytes', () => randomBytes(250_000, 2), 1],
    ['text then random then runs', () => concatBytes(textBytes(150_000, 3), randomBytes(60_000, 4), periodicBytes(90_000, [7, 7, 7, 7, 7, 9])), 2],
    ['a block smaller than mainSort handles (fallback only)', () => textBytes(5_000, 5), 9],
    ['one byte', () => Uint8Array.of(0x41), 9],
    ['empty input', () => new Uint8Array(0), 9],
  ] as const)('%s', async (_name, make, level) => {
    const input = make();
    expectSameBytes(compressBuffer(input, { level, alignBlocks: false }), await bzip2Compress(input, level));
  });

  it('empty input is the 14-byte stream of spec §1.1 in both modes', () => {
    const empty = Uint8Array.of(0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0, 0, 0, 0);
    expectSameBytes(compressBuffer(new Uint8Array(0)), empty);
    expectSameBytes(compressBuffer(new Uint8Array(0), { alignBlocks: false }), empty);
  });
});

describe('block boundaries and block CRCs are bzip2 -vvv\'s', () => {
  function ourBlocks(input: Uint8Array, level: number): { crc: number; size: number }[] {
    const blocks: { crc: number; size: number }[] = [];
    const s = new Rle1Splitter(level, (b) => blocks.push({ crc: b.blockCrc, size: b.nblock }));
    s.push(input);
    s.finish();
    return blocks;
  }

  it('on the ntfsclone image at level 1', async () => {
    const ours = ourBlocks(image, 1);
    expect(ours.length).toBeGreaterThan(20);
    expect(ours).toEqual(await bzip2BlockReport(image, 1));
  });

  it('with runs of 255, 256 and 259 bytes across the block limit', async () => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 1500; i++) parts.push(randomBytes(97, i), new Uint8Array(255 + (i % 6)).fill(i & 0xff));
    const input = concatBytes(...parts);
    const ours = ourBlocks(input, 1);
    expect(ours.length).toBeGreaterThan(1);
    expect(ours).toEqual(await bzip2BlockReport(input, 1));
  });
});

describe('padded output decodes with bzip2, lbzip2, pbzip2, seek-bzip and unbzip2-stream', () => {
  const cases: [string, () => Uint8Array, number][] = [
    ['ntfsclone image', () => image, 9],
    ['zeros (period 5 after RLE1)', () => new Uint8Array(3_000_000), 9],
    ['random bytes', () => randomBytes(600_000, 6), 9],
    ['text', () => textBytes(1_000_000, 7), 9],
    ['4-byte pattern', () => periodicBytes(2_000_000, [1, 2, 3, 4]), 9],
    ['4-byte pattern with a flip every 128 KiB', () => flipEvery(periodicBytes(2_000_000, [9, 8, 7, 6]), 131072), 9],
    ['64 KiB period with noise every 4 KiB', () => nearPeriodicBytes(2_000_000, 65536, 4096, 8), 9],
    ['Fibonacci word', () => fibonacciWord(1_000_000), 9],
    ['runs of every length 1..300', () => concatBytes(...Array.from({ length: 300 }, (_, i) => new Uint8Array(i + 1).fill(i % 3))), 1],
    ['one byte', () => Uint8Array.of(0), 9],
    ['empty input', () => new Uint8Array(0), 9],
  ];

  it.each(cases)('%s', async (_name, make, level) => {
    const input = make();
    const compressed = compressBuffer(input, { level });
    for (const peer of PEERS) expectSameBytes(await peerDecompress(peer, compressed), input);
    if (input.length > 0) {
      expectSameBytes(seekBzipDecode(compressed), input);
      expectSameBytes(await unbzip2StreamDecode(compressed), input);
    }
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('every level: %i', async (level) => {
    const input = concatBytes(image.subarray(1_000_000, 1_900_000), new Uint8Array(50_000), textBytes(200_000, level));
    const compressed = compressBuffer(input, { level });
    expect(compressed[3]).toBe(0x30 + level);
    for (const peer of PEERS) expectSameBytes(await peerDecompress(peer, compressed), input);
  });
});

describe('a run crossing the block limit (the compressjs bug, spec §6.3)', () => {
  // The limit is 100000·level − 19 post-RLE1 bytes: sweep the prefix so the block fills at every
  // position in and around a zero run's 4 bytes + count.
  it('level 1, prefixes 99 970 .. 99 986', async () => {
    for (let prefix = 99_970; prefix <= 99_986; prefix++) {
      const input = runAfterPrefix(prefix, 100_300);
      const compressed = compressBuffer(input, { level: 1 });
      expectSameBytes(await peerDecompress('bzip2', compressed), input);
      expectSameBytes(compressBuffer(input, { level: 1, alignBlocks: false }), await bzip2Compress(input, 1));
    }
  });

  it('level 9, prefixes 899 975 .. 899 981', async () => {
    for (let prefix = 899_975; prefix <= 899_981; prefix++) {
      const input = runAfterPrefix(prefix, 900_100);
      const compressed = compressBuffer(input, { level: 9 });
      expectSameBytes(await peerDecompress('lbzip2', compressed), input);
      expectSameBytes(await peerDecompress('bzip2', compressed), input);
    }
  });
});

function flipEvery(bytes: Uint8Array, every: number): Uint8Array {
  for (let i = every >> 1; i < bytes.length; i += every) bytes[i] = bytes[i]! ^ 0x5a;
  return bytes;
}
