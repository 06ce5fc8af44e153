// The block sort's work budget (src/bzip2/block-sort.ts, spec docs/spec/bzip2.md §2.4) swept
// over the sample image's blocks and the inputs that exhaust any budget, one thread, minimum of
// several runs. `npm run bench -- block-sort-budget` (add budgets as BUDGETS=9,12,15).

import { readFileSync } from 'node:fs';
import { blockSort, BlockSortWorkspace, DEFAULT_BUDGET_PER_BYTE } from '../src/bzip2/block-sort.js';
import { blockBufferBytes, Rle1Splitter } from '../src/bzip2/rle1.js';
import { ensureSampleImage } from './sample-image.js';
import { fibonacciWord, nearPeriodicBytes, periodicBytes, randomBytes } from '../test/bzip2/support/inputs.js';

const LEVEL = 9;
const RUNS = 3;

function rle1Blocks(input: Uint8Array): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const splitter = new Rle1Splitter(LEVEL, (b) => blocks.push(b.data.slice(0, b.nblock)));
  splitter.push(input);
  splitter.finish();
  return blocks;
}

function hardInputs(): [string, Uint8Array][] {
  const flipped = periodicBytes(899_000, [1, 2, 3, 4]);
  flipped[400_000] = 9;
  const zerosOne = new Uint8Array(40_000_000);
  zerosOne[12_345_678] = 1;
  const flipEvery = periodicBytes(899_000, [9, 8, 7, 6]);
  for (let i = 0; i < flipEvery.length; i += 131072) flipEvery[i] = 0;
  return [
    ['zeros after RLE1', rle1Blocks(new Uint8Array(50_000_000))[0]!],
    ['zeros, one byte changed', rle1Blocks(zerosOne)[0]!],
    ['4-byte pattern', periodicBytes(899_000, [1, 2, 3, 4])],
    ['4-byte pattern, one flip', flipped],
    ['4-byte pattern, flip / 128 KiB', flipEvery],
    ['Fibonacci word', fibonacciWord(899_000)],
    ['64 KiB period, noise / 4 KiB', nearPeriodicBytes(899_000, 65536, 4096, 45)],
    ['4 KiB period, noise / 64 KiB', nearPeriodicBytes(899_000, 4096, 65536, 46)],
    ['random 200 kB, repeated', periodicBytes(899_000, randomBytes(200_000, 47))],
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
