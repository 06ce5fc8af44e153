// The block sort: mainSort, the SA-IS fallbackSort and the hybrid must all give the sorted rotation
// order, checked against a naive sort on small blocks and by inverting the BWT on large ones,
// including the inputs that make comparison sorts slow (runs, periods, near-periods).

import { describe, expect, it } from 'vitest';
import { blockSort, BlockSortWorkspace } from '../../src/bzip2/block-sort.js';
import { cyclicPeriod, fallbackSort, FallbackSortWorkspace, leastRotation } from '../../src/bzip2/fallback-sort.js';
import { mainSort, MainSortWorkspace } from '../../src/bzip2/main-sort.js';
import { BZ_N_OVERSHOOT, Rle1Splitter } from '../../src/bzip2/rle1.js';
import { fibonacciWord, nearPeriodicBytes, periodicBytes, prng, randomBytes, textBytes } from './support/inputs.js';
import { readTestNtfsImage } from './support/ntfs-image.js';

function withOvershoot(bytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(bytes.length + BZ_N_OVERSHOOT);
  b.set(bytes);
  return b;
}

function naiveRotationOrder(s: Uint8Array): number[] {
  const n = s.length;
  const cmp = (a: number, b: number): number => {
    for (let k = 0; k < n; k++) {
      const x = s[(a + k) % n]!;
      const y = s[(b + k) % n]!;
      if (x !== y) return x - y;
    }
    return 0;
  };
  return [...Array(n).keys()].sort((a, b) => cmp(a, b) || a - b);
}

/** The BWT column the sort implies, from ptr. */
function bwtOf(block: Uint8Array, n: number, ptr: Int32Array): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = block[(ptr[i]! + n - 1) % n]!;
  return out;
}

/** Inverts a BWT (last column + row of the original) back to the block. */
function inverseBwt(last: Uint8Array, origPtr: number): Uint8Array {
  const n = last.length;
  const counts = new Int32Array(257);
  for (const c of last) counts[c + 1]!++;
  for (let c = 1; c <= 256; c++) counts[c]! += counts[c - 1]!;
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) next[counts[last[i]!]!++] = i;
  const out = new Uint8Array(n);
  let p = next[origPtr]!;
  for (let i = 0; i < n; i++) {
    out[i] = last[p]!;
    p = next[p]!;
  }
  return out;
}

/** Post-RLE1 blocks of `input` at `level`, as the encoder sees them. */
function rle1Blocks(input: Uint8Array, level: number): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const s = new Rle1Splitter(level, (b) => blocks.push(b.data.slice(0, b.nblock)));
  s.push(input);
  s.finish();
  return blocks;
}

describe('fallbackSort (SA-IS on the Lyndon rotation)', () => {
  it('matches a naive rotation sort on 3000 small random and periodic blocks', () => {
    const next = prng(77);
    const ws = new FallbackSortWorkspace();
    for (let t = 0; t < 3000; t++) {
      const n = 1 + (next() % 70);
      const alphabet = 1 + (next() % 4);
      const s = new Uint8Array(n);
      for (let i = 0; i < n; i++) s[i] = next() % alphabet;
      if (t % 5 === 0) {
        const p = 1 + (next() % 6);
        for (let i = p; i < n; i++) s[i] = s[i - p]!;
      }
      const ptr = new Int32Array(n);
      fallbackSort(withOvershoot(s), n, ptr, ws);
      const expected = naiveRotationOrder(s);
      // Equal rotations may come in any order: compare the rotations, not their offsets.
      expect(bwtOf(s, n, ptr)).toEqual(bwtOf(s, n, Int32Array.from(expected)));
      if (cyclicPeriod(s, n, ws) === n) expect(Array.from(ptr)).toEqual(expected);
    }
  });

  it('finds the least rotation and the period', () => {
    const ws = new FallbackSortWorkspace();
    const s = Uint8Array.from('banana', (c) => c.charCodeAt(0));
    expect(leastRotation(s, 6)).toBe(5); // "abanan"
    expect(cyclicPeriod(s, 6, ws)).toBe(6);
    expect(cyclicPeriod(periodicBytes(12, [1, 2, 3]), 12, ws)).toBe(3);
    expect(cyclicPeriod(periodicBytes(10, [1, 2, 3]), 10, ws)).toBe(10);
  });
});

describe('mainSort and the hybrid agree with the fallback', () => {
  const cases: [string, () => Uint8Array][] = [
    ['text', () => textBytes(120_000, 41)],
    ['random bytes', () => randomBytes(60_000, 42)],
    ['ntfsclone image block', () => rle1Blocks(readTestNtfsImage(), 2)[3]!],
    ['64 KiB-periodic with noise', () => nearPeriodicBytes(150_000, 65536, 4096, 43)],
  ];
  it.each(cases)('%s', (_name, make) => {
    const s = make();
    const n = s.length;
    const expected = new Int32Array(n);
    fallbackSort(withOvershoot(s), n, expected, new FallbackSortWorkspace());
    const ptr = new Int32Array(n);
    expect(mainSort(withOvershoot(s), n, ptr, new MainSortWorkspace(n), 1e12)).toBe(true);
    expect(ptr).toEqual(expected);
    const ws = new BlockSortWorkspace(n);
    for (const budgetPerByte of [0, 0.05, 3]) {
      ptr.fill(-1);
      const origPtr = blockSort(withOvershoot(s), n, ptr, ws, { budgetPerByte });
      expect(ptr).toEqual(expected);
      expect(ptr[origPtr]).toBe(0);
    }
  });

  it('mainSort gives up, rather than running on, when its budget is exhausted', () => {
    const s = nearPeriodicBytes(200_000, 4, 50_000, 44);
    expect(mainSort(withOvershoot(s), s.length, new Int32Array(s.length), new MainSortWorkspace(s.length), 1000)).toBe(false);
    // No big bucket was finished when the budget ran out: the second budget is not granted.
    expect(mainSort(withOvershoot(s), s.length, new Int32Array(s.length), new MainSortWorkspace(s.length), 1000, 1e12)).toBe(false);
  });

  it('mainSort takes its second budget when the budget runs out with most big buckets finished', () => {
    // 90% random bytes 1..255 (small big buckets, sorted first), then a 7-periodic run of zeros:
    // the largest big bucket, sorted last, costs more than the first budget.
    const n = 100_000;
    const next = prng(5);
    const s = Uint8Array.from({ length: n }, (_, i) => (i < 90_000 ? 1 + (next() % 255) : i % 7 === 0 ? 7 : 0));
    const expected = new Int32Array(n);
    fallbackSort(withOvershoot(s), n, expected, new FallbackSortWorkspace());
    const ws = new MainSortWorkspace(n);
    const ptr = new Int32Array(n);
    expect(mainSort(withOvershoot(s), n, ptr, ws, 100_000)).toBe(false);
    expect(mainSort(withOvershoot(s), n, ptr, ws, 100_000, 100_000)).toBe(false);
    expect(mainSort(withOvershoot(s), n, ptr, ws, 100_000, 1e12)).toBe(true);
    expect(ptr).toEqual(expected);
  });
});

describe('blockSort on the inputs that make comparison sorts slow (900 kB blocks)', () => {
  const cases: [string, () => Uint8Array][] = [
    ['zeros after RLE1 (period 5)', () => rle1Blocks(new Uint8Array(50_000_000), 9)[0]!],
    ['zeros after RLE1 with one byte changed', () => {
      const z = new Uint8Array(40_000_000);
      z[12_345_678] = 1;
      return rle1Blocks(z, 9)[0]!;
    }],
    ['4-byte pattern', () => periodicBytes(899_000, [1, 2, 3, 4])],
    ['4-byte pattern with one byte flipped', () => {
      const p = periodicBytes(899_000, [1, 2, 3, 4]);
      p[400_000] = 9;
      return p;
    }],
    ['Fibonacci word', () => fibonacciWord(899_000)],
    ['64 KiB period with noise every 4 KiB', () => nearPeriodicBytes(899_000, 65536, 4096, 45)],
  ];
  it.each(cases)('%s', (_name, make) => {
    const s = make();
    const n = s.length;
    expect(n).toBeGreaterThan(700_000);
    const ptr = new Int32Array(n);
    const origPtr = blockSort(withOvershoot(s), n, ptr, new BlockSortWorkspace(n));
    expect(Buffer.compare(Buffer.from(inverseBwt(bwtOf(s, n, ptr), origPtr)), Buffer.from(s))).toBe(0);
  });
});
