// The bit-level block-magic scanner: finds the 48-bit magic at every bit alignment, across chunk
// boundaries, exactly where a naive bit-by-bit search finds it.

import { describe, expect, it } from 'vitest';
import { BlockMagicScanner } from '../../src/bzip2/block-scanner.js';
import { randomBytes, rng } from './support/inputs.js';

const MAGIC = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];

function bitAt(bytes: Uint8Array, bit: number): number {
  return (bytes[bit >>> 3]! >>> (7 - (bit & 7))) & 1;
}

function plant(bytes: Uint8Array, bit: number): void {
  for (let k = 0; k < 48; k++) {
    const want = (MAGIC[k >>> 3]! >>> (7 - (k & 7))) & 1;
    const b = bit + k;
    if (want) bytes[b >>> 3]! |= 0x80 >>> (b & 7);
    else bytes[b >>> 3]! &= ~(0x80 >>> (b & 7));
  }
}

function naive(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let s = 0; s + 48 <= bytes.length * 8; s++) {
    let k = 0;
    while (k < 48 && bitAt(bytes, s + k) === ((MAGIC[k >>> 3]! >>> (7 - (k & 7))) & 1)) k++;
    if (k === 48) out.push(s);
  }
  return out;
}

describe('BlockMagicScanner', () => {
  it('finds magics planted at every bit alignment, like a bit-by-bit search', () => {
    const bytes = randomBytes(20_000, 9);
    const r = rng(10);
    const planted: number[] = [];
    for (let k = 0; k < 40; k++) {
      const bit = 64 + k * 3000 + (k % 8) + Math.floor(r() * 100);
      plant(bytes, bit);
      planted.push(bit);
    }
    plant(bytes, 0); // at the very start
    plant(bytes, bytes.length * 8 - 48); // at the very end
    const found: number[] = [];
    new BlockMagicScanner().scan(bytes, 0, bytes.length, found);
    expect(found).toEqual(naive(bytes));
    for (const p of [0, ...planted, bytes.length * 8 - 48]) expect(found).toContain(p);
    expect(new Set(found.map((b) => b % 8)).size).toBe(8);
  });

  it('does not depend on how the input is split', () => {
    const bytes = randomBytes(5000, 11);
    for (let k = 0; k < 8; k++) plant(bytes, 100 + k * 601);
    const whole: number[] = [];
    new BlockMagicScanner().scan(bytes, 0, bytes.length, whole);
    for (const step of [1, 3, 7]) {
      const s = new BlockMagicScanner();
      const found: number[] = [];
      for (let i = 0; i < bytes.length; i += step) s.scan(bytes, i, Math.min(bytes.length, i + step), found);
      expect(found).toEqual(whole);
    }
    expect(whole.length).toBe(8);
  });

  it('finds magics straddling pieces of random sizes, even a piece shorter than the carry', () => {
    const bytes = randomBytes(30_000, 12);
    const r = rng(13);
    for (let k = 0; k < 200; k++) plant(bytes, 8 + Math.floor(r() * (bytes.length * 8 - 64)));
    const expected = naive(bytes);
    for (let round = 0; round < 4; round++) {
      const s = new BlockMagicScanner();
      const found: number[] = [];
      for (let i = 0; i < bytes.length; ) {
        const next = Math.min(bytes.length, i + 1 + Math.floor(r() * (round === 0 ? 8 : 2000)));
        // Each piece in a fresh array: the scanner may not look before `from`.
        s.scan(bytes.slice(i, next), 0, next - i, found);
        i = next;
      }
      expect(found).toEqual(expected);
    }
    expect(expected.length).toBeGreaterThan(150);
  });
});
