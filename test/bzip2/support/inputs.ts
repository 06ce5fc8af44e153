// Deterministic test inputs for the bzip2 encoder and decoder tests: the kinds of data disk images
// are made of (spec docs/spec/bzip2.md §6.2 "Encoder stress inputs"), generated from a seed so a
// failure reproduces.

import { closeSync, openSync, readSync } from 'node:fs';

/** mulberry32: a small seeded PRNG returning uint32s. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The same generator as floats in [0, 1). */
export function rng(seed: number): () => number {
  const next = prng(seed);
  return () => next() / 4294967296;
}

export function randomBytes(length: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her all she there would their we him been has when who will more no if out so said what up its about ' +
  'volume cluster sector bitmap record attribute index journal snapshot restore backup partition block stream'
).split(' ');

/** English-like text: words, punctuation and line breaks from a seeded choice. */
export function textBytes(length: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(length);
  let i = 0;
  let col = 0;
  while (i < length) {
    const w = WORDS[next() % WORDS.length]!;
    for (let k = 0; k < w.length && i < length; k++) out[i++] = w.charCodeAt(k);
    col += w.length + 1;
    if (i < length) {
      const r = next() % 16;
      out[i++] = col > 70 ? 10 : r === 0 ? 46 : r === 1 ? 44 : 32;
      if (col > 70) col = 0;
    }
  }
  return out;
}

/** `pattern` repeated to `length` bytes. */
export function periodicBytes(length: number, pattern: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = pattern[i % pattern.length]!;
  return out;
}

/** A period of `period` random bytes, with one random byte changed every `noiseEvery` bytes. */
export function nearPeriodicBytes(length: number, period: number, noiseEvery: number, seed: number): Uint8Array {
  const base = randomBytes(period, seed);
  const out = periodicBytes(length, base);
  const next = prng(seed ^ 0x5bd1e995);
  for (let i = noiseEvery >> 1; i < length; i += noiseEvery) out[i] = next() & 0xff;
  return out;
}

/** The Fibonacci word over {a, b}: maximally repetitive without being periodic. */
export function fibonacciWord(length: number): Uint8Array {
  let a = 'a';
  let b = 'ab';
  while (b.length < length) [a, b] = [b, b + a];
  return Uint8Array.from(b.slice(0, length), (c) => c.charCodeAt(0));
}

/**
 * `prefixLength` bytes with no two neighbours equal (RLE1 leaves them alone, one post-RLE1 byte
 * each), then zeros up to `length`: the block limit falls at a chosen place inside the zero run.
 */
export function runAfterPrefix(prefixLength: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < prefixLength; i++) out[i] = 1 + ((i * 7 + (i >>> 8)) % 251);
  for (let i = 1; i < prefixLength; i++) if (out[i] === out[i - 1]) out[i] = out[i]! === 255 ? 1 : out[i]! + 1;
  return out;
}

/** Runs of 1..600 equal bytes: every RLE1 case (runs of 4..255 and longer ones split). */
export function runBytes(length: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; ) {
    const run = next() % 2 === 0 ? 1 + (next() % 8) : 1 + (next() % 600);
    out.fill(next() % 4, i, Math.min(length, i + run));
    i += run;
  }
  return out;
}

/** A slice of the node executable: real program-binary bytes. */
export function binaryBytes(length: number, offset = 1 << 20): Uint8Array {
  const fd = openSync(process.execPath, 'r');
  try {
    const out = new Uint8Array(length);
    const got = readSync(fd, out, 0, length, offset);
    return out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Concatenation of parts. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Splits `bytes` into chunks of random sizes in 1..maxChunk (seeded). */
export function randomChunks(bytes: Uint8Array, maxChunk: number, seed: number): Uint8Array[] {
  const next = prng(seed);
  const out: Uint8Array[] = [];
  for (let off = 0; off < bytes.length; ) {
    const size = 1 + (next() % maxChunk);
    out.push(bytes.subarray(off, Math.min(off + size, bytes.length)));
    off += size;
  }
  return out;
}
