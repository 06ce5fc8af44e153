// The fast path of the block sort: libbzip2's mainSort (blocksort.c mainSort, mainQSort3,
// mainSimpleSort, mainGtU), written from its description in docs/spec/bzip2.md §2.2:
// 2-byte radix buckets, big buckets handled smallest first, 3-way radix quicksort then shellsort
// with a comparator that consults the 16-bit "quadrant" rank cache, and the copy step that derives
// buckets [c, ss] from the finished big bucket ss. It gives up when its work budget runs out
// (spec §2.4: the caller then runs the linear-time fallback), so no input can make it slow.

import { BZ_N_OVERSHOOT } from './rle1.js';

const MAIN_QSORT_SMALL_THRESH = 20;
/**
 * The radix quicksort goes 4 bytes per level (it compares 32-bit words where libbzip2 compares
 * bytes) and hands over to the shellsort past this depth (libbzip2: 14 bytes; with cached 4-byte
 * digits going deeper measured 1-4% faster). Its deepest digit read, at depth 30, ends on the
 * last overshoot byte.
 */
const MAIN_QSORT_DEPTH_THRESH = 26;
/** Deepest start depth mainGtU can take: it reads up to 19 bytes past it before wrapping. */
const GTU_MAX_DEPTH = 14;
/** Subtracted from (XORed into) 4-byte big-endian reads so that signed comparison orders them. */
const BIAS = 0x80000000;
const QSORT_STACK_ENTRIES = 100;

/** Knuth's shellsort increments (h = 3h + 1). */
const INCS = Int32Array.of(1, 4, 13, 40, 121, 364, 1093, 3280, 9841, 29524, 88573, 265720, 797161, 2391484);

/**
 * Work left, in units of one 8-position step of mainGtU. A module variable rather than a field so
 * the comparator's hot loop touches no object; mainSort sets it and reads it back.
 */
let budget = 0;
/** The second budget mainSort may still grant (see mainSort), and the entries already finished. */
let extraBudget = 0;
let finishedEntries = 0;
let blockEntries = 0;

/**
 * Called when the budget has run out: grants the second budget once, to a block whose finished
 * big buckets hold at least half its entries. The sort then goes on where it was.
 */
function grantSecondBudget(): boolean {
  if (extraBudget <= 0 || 2 * finishedEntries < blockEntries) return false;
  budget += extraBudget;
  extraBudget = 0;
  return budget >= 0;
}

/** Scratch arrays reused from block to block (one set per thread). */
export class MainSortWorkspace {
  readonly ftab = new Int32Array(65537);
  readonly bucketSorted = new Uint8Array(65536);
  readonly bigDone = new Uint8Array(256);
  readonly runningOrder = new Int32Array(256);
  readonly copyStart = new Int32Array(256);
  readonly copyEnd = new Int32Array(256);
  readonly stackLo = new Int32Array(QSORT_STACK_ENTRIES);
  readonly stackHi = new Int32Array(QSORT_STACK_ENTRIES);
  readonly stackD = new Int32Array(QSORT_STACK_ENTRIES);
  /** mainQSort3's cached 4-byte digits, indexed like ptr. */
  keys: Int32Array;
  /** 16-bit ranks, big-endian at byte 2·i for rotation i (see mainGtU). */
  quadrantBytes: Uint8Array;
  quadrant: DataView;

  constructor(maxBlockBytes: number) {
    this.keys = new Int32Array(maxBlockBytes + 1);
    this.quadrantBytes = new Uint8Array(2 * (maxBlockBytes + BZ_N_OVERSHOOT));
    this.quadrant = new DataView(this.quadrantBytes.buffer);
  }
}

/**
 * Sorts the rotations of block[0, n) into ptr[0, n) (rotation start offsets in sorted order).
 * `block` must have BZ_N_OVERSHOOT spare bytes after n; n must be at least BZ_N_OVERSHOOT.
 * Returns false, leaving ptr in an unspecified state, when more than `workBudget` comparator
 * steps would be needed, or, if by then the finished big buckets hold at least half the block,
 * more than `workBudget + secondBudget`.
 *
 * Why a second chance: the blocks that defeat mainSort (periods, near-periods, Fibonacci-like
 * text, long repeats) spend any budget inside their first big buckets, while an ordinary block
 * with one slow region has finished most of its buckets when the budget runs out. Measured at 9
 * steps per byte: every such input had 0% of its entries in finished buckets, and the one block
 * of the sample image that needs 12-15 steps per byte had 55%. Only the latter gets more time.
 */
export function mainSort(block: Uint8Array, n: number, ptr: Int32Array, ws: MainSortWorkspace, workBudget: number, secondBudget = 0): boolean {
  if (ws.keys.length < n) ws.keys = new Int32Array(n);
  if (ws.quadrantBytes.length < 2 * (n + BZ_N_OVERSHOOT)) {
    ws.quadrantBytes = new Uint8Array(2 * (n + BZ_N_OVERSHOOT));
    ws.quadrant = new DataView(ws.quadrantBytes.buffer);
  }
  const quadrant = ws.quadrant;
  // 4-byte big-endian reads straight from the block (one load each once compiled).
  const words = new DataView(block.buffer, block.byteOffset, n + BZ_N_OVERSHOOT);
  const ftab = ws.ftab;
  const bucketSorted = ws.bucketSorted;
  const bigDone = ws.bigDone;
  const runningOrder = ws.runningOrder;

  // The wrap-around copy lets comparisons run up to BZ_N_OVERSHOOT bytes past the end.
  for (let i = 0; i < BZ_N_OVERSHOOT; i++) block[n + i] = block[i]!;
  ws.quadrantBytes.fill(0, 0, 2 * (n + BZ_N_OVERSHOOT));
  bucketSorted.fill(0);
  bigDone.fill(0);

  // Each phase is its own small function: V8 compiles small functions once, where one function
  // with many loops is recompiled (on-stack replacement) for each loop and after each deopt.
  radixSortPairs(block, n, ptr, ftab);
  orderBigBuckets(ftab, runningOrder);

  budget = workBudget;
  extraBudget = secondBudget;
  finishedEntries = 0;
  blockEntries = n;
  for (let i = 0; i < 256; i++) {
    const ss = runningOrder[i]!;
    // Step 1: sort the small buckets [ss, j] that the copy step has not already filled.
    if (!sortSmallBuckets(ss, ptr, words, quadrant, n, ws)) return false;
    finishedEntries += ftab[(ss + 1) << 8]! - ftab[ss << 8]!;
    // Step 2: derive the buckets [c, ss] from the sorted big bucket ss.
    copyBigBucket(ss, block, n, ptr, ws);
    // Step 3: cache each rotation's rank inside big bucket ss (scaled to 16 bits) so later
    // comparisons reaching these positions stop early.
    bigDone[ss] = 1;
    if (i < 255) cacheQuadrants(ss, n, ptr, ftab, quadrant);
  }
  return true;
}

/**
 * Radix sort of the rotations on their first two bytes (cyclically): afterwards ftab[b] is the
 * start of small bucket b and ftab[65536] = n.
 */
function radixSortPairs(block: Uint8Array, n: number, ptr: Int32Array, ftab: Int32Array): void {
  ftab.fill(0);
  countPairs(block, n, ftab);
  prefixSums(ftab);
  placePairs(block, n, ptr, ftab);
}

// Long loops sit alone at the end of their functions: V8 then never runs on-stack-replaced code
// into statements it has no type feedback for (which deoptimises again on every call).

function countPairs(block: Uint8Array, n: number, ftab: Int32Array): void {
  let j = block[0]! << 8;
  for (let i = n - 1; i >= 0; i--) {
    j = (j >>> 8) | (block[i]! << 8);
    ftab[j]!++;
  }
}

function prefixSums(ftab: Int32Array): void {
  for (let i = 1; i <= 65536; i++) ftab[i]! += ftab[i - 1]!;
}

function placePairs(block: Uint8Array, n: number, ptr: Int32Array, ftab: Int32Array): void {
  let j = block[0]! << 8;
  for (let i = n - 1; i >= 0; i--) {
    j = (j >>> 8) | (block[i]! << 8);
    const k = ftab[j]! - 1;
    ftab[j] = k;
    ptr[k] = i;
  }
}

/**
 * Big buckets in increasing size, so the copy step does the most work (libbzip2 sorts them the
 * same way; ties in any order).
 */
function orderBigBuckets(ftab: Int32Array, runningOrder: Int32Array): void {
  for (let i = 0; i < 256; i++) runningOrder[i] = i;
  for (let i = 1; i < 256; i++) {
    const v = runningOrder[i]!;
    const size = ftab[(v + 1) << 8]! - ftab[v << 8]!;
    let k = i;
    while (k > 0) {
      const u = runningOrder[k - 1]!;
      if (ftab[(u + 1) << 8]! - ftab[u << 8]! <= size) break;
      runningOrder[k] = u;
      k--;
    }
    runningOrder[k] = v;
  }
}

/** Step 1 for big bucket ss; false when the budget ran out. */
function sortSmallBuckets(ss: number, ptr: Int32Array, words: DataView, quadrant: DataView, n: number, ws: MainSortWorkspace): boolean {
  const ftab = ws.ftab;
  const bucketSorted = ws.bucketSorted;
  for (let j = 0; j < 256; j++) {
    if (j === ss) continue;
    const sb = (ss << 8) | j;
    if (bucketSorted[sb] === 0) {
      const lo = ftab[sb]!;
      const hi = ftab[sb + 1]! - 1;
      if (hi > lo) {
        mainQSort3(ptr, words, quadrant, n, lo, hi, 2, ws);
        if (budget < 0) return false;
      }
      bucketSorted[sb] = 1;
    }
  }
  return true;
}

/**
 * Step 2: rotation k−1 of every rotation k in the sorted big bucket ss lands, in order, in small
 * bucket [block[k−1], ss]; fill those for every big bucket not yet done, [ss, ss] included (the
 * forward scan runs into it as it fills).
 */
function copyBigBucket(ss: number, block: Uint8Array, n: number, ptr: Int32Array, ws: MainSortWorkspace): void {
  const ftab = ws.ftab;
  const copyStart = ws.copyStart;
  const copyEnd = ws.copyEnd;
  copyBounds(ss, ftab, copyStart, copyEnd);
  copyForward(ftab[ss << 8]!, ss, block, n, ptr, copyStart, ws.bigDone);
  copyBackward(ftab[(ss + 1) << 8]! - 1, ss, block, n, ptr, copyEnd, ws.bigDone);
  markColumnSorted(ss, ws.bucketSorted);
}

function copyBounds(ss: number, ftab: Int32Array, copyStart: Int32Array, copyEnd: Int32Array): void {
  for (let c = 0; c < 256; c++) {
    copyStart[c] = ftab[(c << 8) | ss]!;
    copyEnd[c] = ftab[((c << 8) | ss) + 1]! - 1;
  }
}

function copyForward(from: number, ss: number, block: Uint8Array, n: number, ptr: Int32Array, copyStart: Int32Array, bigDone: Uint8Array): void {
  for (let p = from; p < copyStart[ss]!; p++) {
    let k = ptr[p]! - 1;
    k += (k >> 31) & n; // wrap -1 to n - 1 without a rarely taken branch
    const c1 = block[k]!;
    if (bigDone[c1] === 0) ptr[copyStart[c1]!++] = k;
  }
}

function copyBackward(from: number, ss: number, block: Uint8Array, n: number, ptr: Int32Array, copyEnd: Int32Array, bigDone: Uint8Array): void {
  for (let p = from; p > copyEnd[ss]!; p--) {
    let k = ptr[p]! - 1;
    k += (k >> 31) & n;
    const c1 = block[k]!;
    if (bigDone[c1] === 0) ptr[copyEnd[c1]!--] = k;
  }
}

function markColumnSorted(ss: number, bucketSorted: Uint8Array): void {
  for (let c = 0; c < 256; c++) bucketSorted[(c << 8) | ss] = 1;
}

/** Step 3: each rotation's rank in big bucket ss, scaled to 16 bits, as its quadrant. */
function cacheQuadrants(ss: number, n: number, ptr: Int32Array, ftab: Int32Array, quadrant: DataView): void {
  const bbStart = ftab[ss << 8]!;
  const bbSize = ftab[(ss + 1) << 8]! - bbStart;
  // The smallest shift bringing bbSize − 1 to at most 65534 (0 for all but huge buckets).
  const shifts = 32 - Math.clz32((bbSize / 65535) | 0);
  setQuadrants(ptr, bbStart, bbSize, shifts, quadrant);
  mirrorQuadrants(n, quadrant);
}

function setQuadrants(ptr: Int32Array, bbStart: number, bbSize: number, shifts: number, quadrant: DataView): void {
  for (let q = bbSize - 1; q >= 0; q--) quadrant.setUint16(ptr[bbStart + q]! << 1, q >> shifts);
}

/** The wrap-around copy of the first BZ_N_OVERSHOOT quadrants, kept current. */
function mirrorQuadrants(n: number, quadrant: DataView): void {
  for (let a = 0; a < BZ_N_OVERSHOOT; a++) quadrant.setUint16((a + n) << 1, quadrant.getUint16(a << 1));
}

/**
 * mainGtU: is rotation i1 greater than rotation i2? Both start at most GTU_MAX_DEPTH past a
 * rotation start below n, and agree on every byte before. Compares 12 bytes as 3 big-endian
 * words, then for each 4 positions a word and two pairs of quadrants, 8 positions per budget unit,
 * wrapping at n; identical rotations (periodic blocks) compare equal, i.e. not greater. The
 * quadrants are compared after their word rather than interleaved with its bytes as in libbzip2:
 * both orders only ever consult facts true of the two rotations, so they give the same answer.
 */
function mainGtU(i1: number, i2: number, words: DataView, quadrant: DataView, n: number): boolean {
  let a = words.getInt32(i1) ^ BIAS;
  let b = words.getInt32(i2) ^ BIAS;
  if (a !== b) return a > b;
  a = words.getInt32(i1 + 4) ^ BIAS;
  b = words.getInt32(i2 + 4) ^ BIAS;
  if (a !== b) return a > b;
  a = words.getInt32(i1 + 8) ^ BIAS;
  b = words.getInt32(i2 + 8) ^ BIAS;
  if (a !== b) return a > b;
  i1 += 12;
  i2 += 12;
  let k = n + 8;
  do {
    a = words.getInt32(i1) ^ BIAS;
    b = words.getInt32(i2) ^ BIAS;
    if (a !== b) return a > b;
    // Quadrants are stored big-endian, so one 32-bit read compares two positions in order.
    let q1 = quadrant.getInt32(i1 << 1) ^ BIAS;
    let q2 = quadrant.getInt32(i2 << 1) ^ BIAS;
    if (q1 !== q2) return q1 > q2;
    q1 = quadrant.getInt32((i1 << 1) + 4) ^ BIAS;
    q2 = quadrant.getInt32((i2 << 1) + 4) ^ BIAS;
    if (q1 !== q2) return q1 > q2;
    a = words.getInt32(i1 + 4) ^ BIAS;
    b = words.getInt32(i2 + 4) ^ BIAS;
    if (a !== b) return a > b;
    q1 = quadrant.getInt32((i1 << 1) + 8) ^ BIAS;
    q2 = quadrant.getInt32((i2 << 1) + 8) ^ BIAS;
    if (q1 !== q2) return q1 > q2;
    q1 = quadrant.getInt32((i1 << 1) + 12) ^ BIAS;
    q2 = quadrant.getInt32((i2 << 1) + 12) ^ BIAS;
    if (q1 !== q2) return q1 > q2;
    i1 += 8;
    i2 += 8;
    if (i1 >= n) i1 -= n;
    if (i2 >= n) i2 -= n;
    k -= 8;
    budget--;
  } while (k >= 0);
  return false;
}

/**
 * mainSimpleSort: shellsort of ptr[lo..hi], rotations equal up to `depth` bytes. keys[i] holds the
 * 4 bytes at `depth` of rotation ptr[i] (loaded by mainQSort3), so most comparisons touch no block
 * memory; mainGtU settles ties from as deep as it can start.
 */
function mainSimpleSort(
  ptr: Int32Array,
  keys: Int32Array,
  words: DataView,
  quadrant: DataView,
  n: number,
  lo: number,
  hi: number,
  depth: number,
): void {
  const bigN = hi - lo + 1;
  if (bigN < 2) return;
  // Ties on the key agree on 4 more bytes; mainGtU can start at most GTU_MAX_DEPTH deep, and
  // starting earlier than the known common prefix is correct, only slower.
  const d = depth + 4 > GTU_MAX_DEPTH ? GTU_MAX_DEPTH : depth + 4;
  let hp = 0;
  while (INCS[hp]! < bigN) hp++;
  hp--;
  for (; hp >= 0; hp--) {
    const h = INCS[hp]!;
    for (let i = lo + h; i <= hi; i++) {
      const v = ptr[i]!;
      const vk = keys[i]!;
      let jj = i;
      for (;;) {
        const u = jj - h;
        const uk = keys[u]!;
        if (uk < vk || (uk === vk && !mainGtU(ptr[u]! + d, v + d, words, quadrant, n))) break;
        ptr[jj] = ptr[u]!;
        keys[jj] = uk;
        jj = u;
        if (jj <= lo + h - 1) break;
      }
      ptr[jj] = v;
      keys[jj] = vk;
      if (budget < 0 && !grantSecondBudget()) return;
    }
  }
}

/**
 * mainQSort3: multikey (3-way radix) quicksort of ptr[lo..hi] from depth d, explicit stack, on
 * 4-byte digits. Each segment's digits are read from the block once into keys[] (same indices as
 * ptr) and move with their rotations, so partitioning works on local memory; only a segment that
 * goes one digit deeper reads the block again.
 */
function mainQSort3(
  ptr: Int32Array,
  words: DataView,
  quadrant: DataView,
  n: number,
  loSt: number,
  hiSt: number,
  dSt: number,
  ws: MainSortWorkspace,
): void {
  const keys = ws.keys;
  const stackLo = ws.stackLo;
  const stackHi = ws.stackHi;
  const stackD = ws.stackD;
  // stackD holds the depth, negated (~d) when keys[] already holds the digits at that depth.
  let sp = 0;
  stackLo[sp] = loSt;
  stackHi[sp] = hiSt;
  stackD[sp] = dSt;
  sp++;
  while (sp > 0) {
    sp--;
    const lo = stackLo[sp]!;
    const hi = stackHi[sp]!;
    let d = stackD[sp]!;
    if (d < 0) {
      d = ~d;
    } else {
      for (let i = lo; i <= hi; i++) keys[i] = words.getInt32(ptr[i]! + d) ^ BIAS;
    }
    if (hi - lo < MAIN_QSORT_SMALL_THRESH || d > MAIN_QSORT_DEPTH_THRESH) {
      mainSimpleSort(ptr, keys, words, quadrant, n, lo, hi, d);
      if (budget < 0) return;
      continue;
    }
    // Median of three.
    let a = keys[lo]!;
    let b = keys[hi]!;
    const c = keys[(lo + hi) >>> 1]!;
    if (a > b) {
      const t = a;
      a = b;
      b = t;
    }
    if (b > c) {
      b = c;
      if (a > b) b = a;
    }
    const med = b;

    let unLo = lo;
    let ltLo = lo;
    let unHi = hi;
    let gtHi = hi;
    for (;;) {
      while (unLo <= unHi) {
        const x = keys[unLo]!;
        if (x === med) {
          swap(ptr, keys, unLo, ltLo);
          ltLo++;
          unLo++;
          continue;
        }
        if (x > med) break;
        unLo++;
      }
      while (unLo <= unHi) {
        const x = keys[unHi]!;
        if (x === med) {
          swap(ptr, keys, unHi, gtHi);
          gtHi--;
          unHi--;
          continue;
        }
        if (x < med) break;
        unHi--;
      }
      if (unLo > unHi) break;
      swap(ptr, keys, unLo, unHi);
      unLo++;
      unHi--;
    }

    if (gtHi < ltLo) {
      // Every element equals the pivot at depth d: go one word deeper.
      stackLo[sp] = lo;
      stackHi[sp] = hi;
      stackD[sp] = d + 4;
      sp++;
      continue;
    }

    // Move the equal parts from both ends to the middle.
    let m = Math.min(ltLo - lo, unLo - ltLo);
    for (let p = lo, q = unLo - m; m > 0; m--, p++, q++) swap(ptr, keys, p, q);
    m = Math.min(hi - gtHi, gtHi - unHi);
    for (let p = unLo, q = hi - m + 1; m > 0; m--, p++, q++) swap(ptr, keys, p, q);
    const ltEnd = lo + unLo - ltLo - 1; // [lo, ltEnd] < pivot
    const gtStart = hi - (gtHi - unHi) + 1; // [gtStart, hi] > pivot

    // Push the three parts largest first so the smallest is sorted next: the stack stays
    // O(log n) deep. The outer parts keep their keys; the middle one needs the next digit.
    let lo1 = lo, hi1 = ltEnd, d1 = ~d;
    let lo2 = gtStart, hi2 = hi, d2 = ~d;
    let lo3 = ltEnd + 1, hi3 = gtStart - 1, d3 = d + 4;
    let t: number;
    if (hi1 - lo1 < hi2 - lo2) {
      t = lo1; lo1 = lo2; lo2 = t;
      t = hi1; hi1 = hi2; hi2 = t;
      t = d1; d1 = d2; d2 = t;
    }
    if (hi2 - lo2 < hi3 - lo3) {
      t = lo2; lo2 = lo3; lo3 = t;
      t = hi2; hi2 = hi3; hi3 = t;
      t = d2; d2 = d3; d3 = t;
    }
    if (hi1 - lo1 < hi2 - lo2) {
      t = lo1; lo1 = lo2; lo2 = t;
      t = hi1; hi1 = hi2; hi2 = t;
      t = d1; d1 = d2; d2 = t;
    }
    stackLo[sp] = lo1; stackHi[sp] = hi1; stackD[sp] = d1; sp++;
    stackLo[sp] = lo2; stackHi[sp] = hi2; stackD[sp] = d2; sp++;
    stackLo[sp] = lo3; stackHi[sp] = hi3; stackD[sp] = d3; sp++;
  }
}

function swap(ptr: Int32Array, keys: Int32Array, i: number, j: number): void {
  const p = ptr[i]!;
  ptr[i] = ptr[j]!;
  ptr[j] = p;
  const k = keys[i]!;
  keys[i] = keys[j]!;
  keys[j] = k;
}
