// Damaged .bz2 files (flipped bits in headers, CRCs, selectors, code lengths and Huffman data;
// truncation at many places; garbage appended or prepended) give the same accept/reject verdict
// as the real `bzip2 -t`, the same class of error, a coded SnapcloneError, and never a hang.
// Output written before the error agrees with what `bzip2 -dc` wrote.

import { describe, expect, it } from 'vitest';
import { BlockMagicScanner } from '../../src/bzip2/block-scanner.js';
import { decompressBuffer } from '../../src/bzip2/decompress-buffer.js';
import { binaryBytes, concatBytes, randomBytes, rng, runBytes, textBytes } from './support/inputs.js';
import { chunk, compressWith, decompressStream, runTool, sameBytes } from './support.js';

type Verdict = 'ok' | 'eof' | 'data' | 'magic';

/** bzip2's verdict from its exit status and message (the oracle's own words). */
function peerVerdict(status: number | null, stderr: string): Verdict {
  if (status === 0) return 'ok';
  if (stderr.includes('ends unexpectedly')) return 'eof';
  if (stderr.includes('bad magic number')) return 'magic';
  if (stderr.includes('data integrity') || stderr.includes('CRC error')) return 'data';
  throw new Error(`unexpected bzip2 result ${status}: ${stderr}`);
}

function ourVerdict(code: string | undefined): Verdict {
  switch (code) {
    case undefined:
      return 'ok';
    case 'BZ2_TRUNCATED':
      return 'eof';
    case 'BZ2_BAD_MAGIC':
      return 'magic';
    case 'BZ2_DATA':
    case 'BZ2_BLOCK_CRC':
    case 'BZ2_STREAM_CRC':
      return 'data';
    default:
      throw new Error(`not a bzip2 decoder code: ${code}`);
  }
}

interface Case {
  name: string;
  bytes: Uint8Array;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >>> 3]! ^= 0x80 >>> (bit & 7);
  return out;
}

/** Compares our verdict (buffer and stream) with `bzip2 -t`, and partial output with `bzip2 -dc`. */
async function check(cases: Case[], streamEvery: number): Promise<{ accepted: number; rejected: number }> {
  let accepted = 0;
  let rejected = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const peer = await runTool('bzip2', ['-t'], c.bytes);
    const expected = peerVerdict(peer.status, peer.stderr);
    let code: string | undefined;
    let output: Uint8Array | undefined;
    try {
      output = decompressBuffer(c.bytes);
    } catch (e) {
      code = (e as { code?: string }).code;
      if (code === undefined) throw e;
    }
    const got = ourVerdict(code);
    if (got !== expected) mismatches.push(`${c.name}: bzip2 ${expected}, ours ${code ?? 'ok'}`);
    if (got === 'ok') accepted++;
    else rejected++;
    if (got === 'ok' && expected === 'ok') {
      const peerOut = await runTool('bzip2', ['-dc'], c.bytes);
      if (!sameBytes(output!, peerOut.stdout)) mismatches.push(`${c.name}: output differs from bzip2 -dc`);
    }
    if (i % streamEvery === 0) {
      const threads = 1 + (i % 2);
      const r = await decompressStream(chunk(c.bytes, { seed: i, max: 50_000 }), threads);
      if (r.error?.code !== code) mismatches.push(`${c.name}: stream (${threads} threads) ${r.error?.code ?? 'ok'}, buffer ${code ?? 'ok'}`);
      if (code !== undefined) {
        // What was written before the error is what bzip2 -dc writes, as far as both got.
        const peerOut = new Uint8Array((await runTool('bzip2', ['-dc'], c.bytes)).stdout);
        const n = Math.min(peerOut.length, r.output.length);
        if (!sameBytes(r.output.subarray(0, n), peerOut.subarray(0, n))) mismatches.push(`${c.name}: partial output differs from bzip2 -dc`);
      }
    }
  }
  expect(mismatches).toEqual([]);
  return { accepted, rejected };
}

async function sampleFile(): Promise<{ original: Uint8Array; compressed: Uint8Array; magics: number[] }> {
  const original = concatBytes(textBytes(120_000, 21), binaryBytes(100_000, 5 << 20), runBytes(60_000, 22), randomBytes(30_000, 23));
  const compressed = await compressWith('bzip2', ['-1'], original);
  const magics: number[] = [];
  new BlockMagicScanner().scan(compressed, 0, compressed.length, magics);
  return { original, compressed, magics };
}

describe('damaged bzip2 files: same verdict as bzip2 -t', () => {
  it('single bit flips in every header field of every block, the end-of-stream marker and its CRC', async () => {
    const { compressed, magics } = await sampleFile();
    expect(magics.length).toBeGreaterThanOrEqual(3);
    const r = rng(1);
    const cases: Case[] = [];
    for (let b = 0; b < 32; b++) cases.push({ name: `stream header bit ${b}`, bytes: flipBit(compressed, b) });
    for (const m of magics) {
      // magic (48), block CRC (32), randomised (1), origPtr (24), symbol map (16 + 16k)
      for (let b = 0; b < 48 + 32 + 1 + 24 + 16; b += 3) cases.push({ name: `block@${m} +${b}`, bytes: flipBit(compressed, m + b) });
      // selectors, code lengths and the first Huffman data: a sample of the next few thousand bits
      for (let k = 0; k < 40; k++) {
        const b = 121 + Math.floor(r() * 6000);
        cases.push({ name: `block@${m} +${b}`, bytes: flipBit(compressed, m + b) });
      }
    }
    // End of stream: magic, combined CRC, padding.
    const end = compressed.length * 8;
    for (let b = end - 88; b < end; b += 2) cases.push({ name: `trailer bit ${b}`, bytes: flipBit(compressed, b) });
    const { accepted, rejected } = await check(cases, 10);
    expect(rejected).toBeGreaterThan(cases.length * 0.8);
    expect(accepted).toBeGreaterThan(0); // padding bits
  });

  it('random bit flips and byte overwrites anywhere', async () => {
    const { compressed } = await sampleFile();
    const r = rng(2);
    const cases: Case[] = [];
    for (let k = 0; k < 120; k++) {
      const bit = Math.floor(r() * compressed.length * 8);
      cases.push({ name: `flip ${bit}`, bytes: flipBit(compressed, bit) });
    }
    for (let k = 0; k < 40; k++) {
      const at = Math.floor(r() * (compressed.length - 8));
      const bytes = compressed.slice();
      bytes.set(randomBytes(1 + Math.floor(r() * 8), k), at);
      cases.push({ name: `overwrite at ${at}`, bytes });
    }
    await check(cases, 8);
  });

  it('truncation anywhere is reported as the end of input, before any other error', async () => {
    const { compressed } = await sampleFile();
    const cases: Case[] = [];
    const step = Math.max(1, Math.floor(compressed.length / 150));
    for (let n = 0; n < compressed.length; n += step) cases.push({ name: `first ${n} bytes`, bytes: compressed.subarray(0, n) });
    for (let n = compressed.length - 16; n < compressed.length; n++) cases.push({ name: `first ${n} bytes`, bytes: compressed.subarray(0, n) });
    for (let n = 0; n < 40; n++) cases.push({ name: `first ${n} bytes`, bytes: compressed.subarray(0, n) });
    const { accepted } = await check(cases, 10);
    expect(accepted).toBe(0);
    for (const c of cases.slice(0, 20)) {
      expect(() => decompressBuffer(c.bytes)).toThrow(expect.objectContaining({ code: 'BZ2_TRUNCATED' }));
    }
  });

  it('garbage after the last stream: a warning unless it starts like a stream header', async () => {
    const { compressed, original } = await sampleFile();
    const tails: Record<string, Uint8Array> = {
      'random bytes': randomBytes(1000, 3).map((b, i) => (i === 0 ? 0x00 : b)),
      'one zero byte': Uint8Array.of(0),
      'text': new TextEncoder().encode('hello, this is not bzip2\n'),
      B: new TextEncoder().encode('B'),
      BZ: new TextEncoder().encode('BZ'),
      BZh: new TextEncoder().encode('BZh'),
      BZh0: new TextEncoder().encode('BZh0 and more'),
      BZx: new TextEncoder().encode('BZx'),
      BZh9: new TextEncoder().encode('BZh9'),
      'BZh9 + junk': new TextEncoder().encode('BZh9 this is junk after a header'),
      'BZh9 + block magic': Uint8Array.of(0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59),
      'an empty stream': Uint8Array.of(0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0, 0, 0, 0),
      'an empty stream with a bad CRC': Uint8Array.of(0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0, 0, 0, 1),
    };
    const cases = Object.entries(tails).map(([name, tail]) => ({ name, bytes: concatBytes(compressed, tail) }));
    await check(cases, 1);
    const warned: string[] = [];
    const out = decompressBuffer(concatBytes(compressed, tails['text']!), { onWarning: (w) => warned.push(w.code) });
    expect(sameBytes(out, original)).toBe(true);
    expect(warned).toEqual(['BZ2_TRAILING_GARBAGE']);
  });

  it('garbage before the first stream is not bzip2', async () => {
    const { compressed } = await sampleFile();
    const cases = [Uint8Array.of(0), Uint8Array.of(0x42), new TextEncoder().encode('BZh'), randomBytes(100, 4)].map((head, i) => ({
      name: `prefix ${i}`,
      bytes: concatBytes(head, compressed),
    }));
    await check(cases, 1);
    expect(() => decompressBuffer(cases[0]!.bytes)).toThrow(expect.objectContaining({ code: 'BZ2_BAD_MAGIC' }));
  });
});
