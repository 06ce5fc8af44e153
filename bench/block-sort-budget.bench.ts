// The block sort's work budget (src/bzip2/block-sort.ts, spec docs/spec/bzip2.md §2.4) swept
// over the sample image's blocks and the inputs that exhaust any budget, one thread, minimum of
// several runs. `npm run bench -- block-sort-budget` (add budgets as BUDGETS=9,12,15).

import { readFileSync } from 'node:fs';
import { blockSort, BlockSortWorkspace, DEFAULT_BUDGET_PER_BYTE } from '../src/bzip2/block-sort.js';
import { blockBufferBytes, Rle1Splitter } from '../src/bzip2/rle1.js';
import { ensureSampleImage } from './sample-image.js';

const LEVEL = 9;
const RUNS = 3;

function rle1Blocks(input: Uint8Array): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const splitter = new Rle1Splitter(LEVEL, (b) => blocks.push(b.data.slice(0, b.nblock)));
  splitter.push(input);
  splitter.finish();
  return blocks;
}

/** mulberry32, as the tests' inputs use. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function periodic(length: number, pattern: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = pattern[i % pattern.length]!;
  return out;
}

function nearPeriodic(length: number, period: number, noiseEvery: number, seed: number): Uint8Array {
  const next = prng(seed);
  const base = Uint8Array.from({ length: period }, () => next() & 0xff);
  const out = periodic(length, base);
  for (let i = noiseEvery >> 1; i < length; i += noiseEvery) out[i] = next() & 0xff;
  return out;
}

function fibonacciWord(length: number): Uint8Array {
  let a = 'a';
  let b = 'ab';
  while (b.length < length) [a, b] = [b, b + a];
  return Uint8Array.from(b.slice(0, length), (c) => c.charCodeAt(0));
}

function hardInputs(): [string, Uint8Array][] {
  const flipped = periodic(899_000, [1, 2, 3, 4]);
  flipped[400_000] = 9;
  const zerosOne = new Uint8Array(40_000_000);
  zerosOne[12_345_678] = 1;
  const flipEvery = periodic(899_000, [9, 8, 7, 6]);
  for (let i = 0; i < flipEvery.length; i += 131072) flipEvery[i] = 0;
  return [
    ['zeros after RLE1', rle1Blocks(new Uint8Array(50_000_000))[0]!],
    ['zeros, one byte changed', rle1Blocks(zerosOne)[0]!],
    ['4-byte pattern', periodic(899_000, [1, 2, 3, 4])],
    ['4-byte pattern, one flip', flipped],
    ['4-byte pattern, flip / 128 KiB', flipEvery],
    ['Fibonacci word', fibonacciWord(899_000)],
    ['64 KiB period, noise / 4 KiB', nearPeriodic(899_000, 65536, 4096, 45)],
    ['4 KiB period, noise / 64 KiB', nearPeriodic(899_000, 4096, 65536, 46)],
    ['random 200 kB, repeated', periodic(899_000, Array.from(nearPeriodic(200_000, 200_000, 1 << 30, 47)))],
  ];
}

/** Minimum milliseconds of blockSort over RUNS runs, and whether mainSort gave up. */
function timeSort(block: Uint8Array, ws: BlockSortWorkspace, ptr: Int32Array, budgetPerByte: number): [number, boolean] {
  const buf = new Uint8Array(blockBufferBytes(LEVEL));
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    buf.set(block);
    const t0 = performance.now();
    blockSort(buf, block.length, ptr, ws, { budgetPerByte });
    best = Math.min(best, performance.now() - t0);
  }
  return [best, ws.lastUsedFallback];
}

export async function run(): Promise<void> {
  const budgets = (process.env.BUDGETS ?? `3,6,${DEFAULT_BUDGET_PER_BYTE},12,15,20,30`).split(',').map(Number);
  const { imagePath } = ensureSampleImage();
  const sample = rle1Blocks(readFileSync(imagePath));
  const ws = new BlockSortWorkspace(blockBufferBytes(LEVEL));
  const ptr = new Int32Array(blockBufferBytes(LEVEL));
  // Warm-up: both sorts compiled before anything is timed.
  for (const b of sample.slice(0, 3)) {
    timeSort(b, ws, ptr, 0);
    timeSort(b, ws, ptr, 100);
  }
  console.log(`budget (steps/byte): ${budgets.join(' | ')}   (ms, * = fell back to SA-IS)`);
  const totals = budgets.map(() => 0);
  sample.forEach((block, i) => {
    const cells = budgets.map((budget, k) => {
      const [ms, fell] = timeSort(block, ws, ptr, budget);
      totals[k]! += ms;
      return `${ms.toFixed(0)}${fell ? '*' : ''}`;
    });
    console.log(`sample block ${i} (${block.length} B): ${cells.join(' | ')}`);
  });
  console.log(`sample total: ${totals.map((t) => t.toFixed(0)).join(' | ')}`);
  for (const [name, block] of hardInputs()) {
    const cells = budgets.map((budget) => {
      const [ms, fell] = timeSort(block, ws, ptr, budget);
      return `${ms.toFixed(0)}${fell ? '*' : ''}`;
    });
    console.log(`${name} (${block.length} B): ${cells.join(' | ')}`);
  }
}
