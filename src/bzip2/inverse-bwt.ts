// The inverse BWT of a decoded block: links from the BWT output bytes (libbzip2 decompress.c
// "compute the T^(-1) vector"), then the walk along them that yields the block's symbols in text
// order (the tPos walk of bzlib.c unRLE_obuf_to_output_FAST), before RLE1 is undone
// (block-output.ts). Spec docs/spec/bzip2.md §1.3 and §4.2 (items 5-6).
//
// Each step of the walk loads the row the previous load named. tt holds 3.6 MB for a 900k block,
// so nearly every step is a cache miss, and one chain of dependent loads costs ~16 ns a step here.
// The walk is therefore cut into segments at SEGMENTS evenly spaced rows, flagged in tt, and
// WALKERS chains walk segments at once, so that their misses overlap (~3.5 ns a step measured). A
// walker walks a segment from its first row until the next row is the flagged first row of another
// segment; where each segment ended gives the segments' order in the text.

/** Chains walked at once (the loop in stepAll() is unrolled for exactly this many). */
const WALKERS = 8;
/** Segments per block: many more than walkers, so that all of them stay busy until near the end. */
const SEGMENTS = 64;
/** Blocks shorter than this are walked as one chain: they fit in the caches. */
const MIN_SPLIT_SYMBOLS = 1 << 14;
/** Marks a segment's first row in tt (bit 31: links use bits 8-27, bytes bits 0-7). */
const START_FLAG = 1 << 31;
/** Loops run in calls of at most this many steps, so that V8 optimises them normally and early. */
const CHUNK_STEPS = 4096;

/** Links rows [from, to): the rows holding byte c, in order, follow the rows cftab[c]... */
function linkRange(tt: Int32Array, cftab: Int32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = tt[i]! & 0xff;
    tt[cftab[c]!++]! |= i << 8;
  }
}

/** One chain: symbols[from, to) from the walk that is at row `row`; returns the next row. */
function walkChain(tt: Int32Array, symbols: Uint8Array, row: number, from: number, to: number): number {
  let p = row;
  for (let k = from; k < to; k++) {
    const v = tt[p]!;
    symbols[k] = v;
    p = v >>> 8;
  }
  return p;
}

export class InverseBwt {
  /** The walked symbols: segment i of the text is symbols[segFrom[i], segTo[i]). */
  symbols = new Uint8Array(0);
  readonly segFrom = new Int32Array(SEGMENTS);
  readonly segTo = new Int32Array(SEGMENTS);
  /** Segments of the last block, in text order. */
  segmentCount = 0;

  private readonly cftab = new Int32Array(257);
  // Per segment, in the order of their first rows: first row, output range, the row reached at its end.
  private readonly startRow = new Int32Array(SEGMENTS);
  private readonly from = new Int32Array(SEGMENTS);
  private readonly to = new Int32Array(SEGMENTS);
  private readonly endRow = new Int32Array(SEGMENTS);
  // Per walker: current row, next output position, end of its output region, segment (-1: idle).
  private readonly wRow = new Int32Array(WALKERS);
  private readonly wOut = new Int32Array(WALKERS);
  private readonly wEnd = new Int32Array(WALKERS);
  private readonly wSeg = new Int32Array(WALKERS);

  /**
   * Links tt (low byte of tt[0, nblock): the BWT output; unzftab: counts of each byte) and walks
   * the nblock symbols from row origPtr, as libbzip2 does. tt must have room for nblock + 1 rows.
   */
  run(tt: Int32Array, unzftab: Int32Array, nblock: number, origPtr: number): void {
    const cftab = this.cftab;
    let sum = 0;
    for (let c = 0; c < 256; c++) {
      cftab[c] = sum;
      sum += unzftab[c]!;
    }
    for (let i = 0; i < nblock; i += CHUNK_STEPS) linkRange(tt, cftab, i, Math.min(nblock, i + CHUNK_STEPS));
    // Each walker writes into its own region of a quarter block; idle walkers write into a last one.
    const region = Math.ceil(nblock / 4);
    const need = Math.max(nblock, (WALKERS + 1) * region);
    if (this.symbols.length < need) this.symbols = new Uint8Array(need);
    const first = tt[origPtr]! >>> 8;
    if (nblock >= MIN_SPLIT_SYMBOLS && this.walkSplit(tt, nblock, first, region)) return;
    this.walkOne(tt, nblock, first);
  }

  /** The whole walk as one chain: the reference, for short blocks and for damaged ones. */
  private walkOne(tt: Int32Array, nblock: number, first: number): void {
    let p = first;
    for (let k = 0; k < nblock; k += CHUNK_STEPS) p = walkChain(tt, this.symbols, p, k, Math.min(nblock, k + CHUNK_STEPS));
    this.segFrom[0] = 0;
    this.segTo[0] = nblock;
    this.segmentCount = 1;
  }

  /**
   * The walk by WALKERS chains over segments. False, with tt restored, if the links do not form the
   * single cycle an intact block has (the CRC will tell) or a walker ran out of room: walkOne() then
   * reproduces libbzip2's walk exactly.
   */
  private walkSplit(tt: Int32Array, nblock: number, first: number, region: number): boolean {
    const { startRow, wRow, wOut, wEnd, wSeg } = this;
    let count = 0;
    for (let j = 0; j < SEGMENTS; j++) {
      const r = j === 0 ? first : Math.floor((j * nblock) / SEGMENTS);
      if (tt[r]! < 0) continue; // already a first row
      tt[r]! |= START_FLAG;
      startRow[count++] = r;
    }
    // An idle walker loops on the sentinel row nblock, writing into the spare region.
    tt[nblock] = nblock << 8;
    const spare = WALKERS * region;
    let next = 0;
    let busy = 0;
    for (let w = 0; w < WALKERS; w++) {
      wOut[w] = w * region;
      wEnd[w] = (w + 1) * region;
      wSeg[w] = -1;
      if (next < count) {
        this.begin(tt, w, next++);
        busy++;
      }
    }
    let ok = true;
    while (busy > 0 && ok) {
      let room = CHUNK_STEPS;
      for (let w = 0; w < WALKERS; w++) {
        if (wSeg[w]! < 0) {
          wRow[w] = nblock;
          wOut[w] = spare;
        } else {
          room = Math.min(room, wEnd[w]! - wOut[w]!);
        }
      }
      if (room === 0) {
        ok = false; // a walker's region is full: such a skewed block is walked as one chain
        break;
      }
      this.stepAll(tt, room);
      for (let w = 0; w < WALKERS; w++) {
        const g = wSeg[w]!;
        if (g < 0 || tt[wRow[w]!]! >= 0) continue;
        this.to[g] = wOut[w]!;
        this.endRow[g] = wRow[w]!;
        if (next < count && wOut[w]! < wEnd[w]!) {
          this.begin(tt, w, next++);
        } else {
          wSeg[w] = -1;
          busy--;
          if (next < count) ok = false;
        }
      }
    }
    for (let g = 0; g < count; g++) tt[startRow[g]!]! &= ~START_FLAG;
    return ok && this.order(count, nblock);
  }

  /** Walker w starts segment g: its first row is flagged, so its first step is taken here. */
  private begin(tt: Int32Array, w: number, g: number): void {
    const v = tt[this.startRow[g]!]!;
    const out = this.wOut[w]!;
    this.from[g] = out;
    this.symbols[out] = v;
    this.wOut[w] = out + 1;
    this.wRow[w] = (v >>> 8) & ~(START_FLAG >>> 8);
    this.wSeg[w] = g;
  }

  /** Up to `steps` steps of all walkers, stopping before any of them would enter a flagged row. */
  private stepAll(tt: Int32Array, steps: number): void {
    const { symbols, wRow, wOut } = this;
    let p0 = wRow[0]!, p1 = wRow[1]!, p2 = wRow[2]!, p3 = wRow[3]!, p4 = wRow[4]!, p5 = wRow[5]!, p6 = wRow[6]!, p7 = wRow[7]!;
    let o0 = wOut[0]!, o1 = wOut[1]!, o2 = wOut[2]!, o3 = wOut[3]!, o4 = wOut[4]!, o5 = wOut[5]!, o6 = wOut[6]!, o7 = wOut[7]!;
    for (let k = 0; k < steps; k++) {
      const v0 = tt[p0]!, v1 = tt[p1]!, v2 = tt[p2]!, v3 = tt[p3]!, v4 = tt[p4]!, v5 = tt[p5]!, v6 = tt[p6]!, v7 = tt[p7]!;
      if ((v0 | v1 | v2 | v3 | v4 | v5 | v6 | v7) < 0) break;
      symbols[o0++] = v0;
      symbols[o1++] = v1;
      symbols[o2++] = v2;
      symbols[o3++] = v3;
      symbols[o4++] = v4;
      symbols[o5++] = v5;
      symbols[o6++] = v6;
      symbols[o7++] = v7;
      p0 = v0 >>> 8;
      p1 = v1 >>> 8;
      p2 = v2 >>> 8;
      p3 = v3 >>> 8;
      p4 = v4 >>> 8;
      p5 = v5 >>> 8;
      p6 = v6 >>> 8;
      p7 = v7 >>> 8;
    }
    wRow[0] = p0; wRow[1] = p1; wRow[2] = p2; wRow[3] = p3; wRow[4] = p4; wRow[5] = p5; wRow[6] = p6; wRow[7] = p7;
    wOut[0] = o0; wOut[1] = o1; wOut[2] = o2; wOut[3] = o3; wOut[4] = o4; wOut[5] = o5; wOut[6] = o6; wOut[7] = o7;
  }

  /**
   * Puts the `count` segments in text order, from the one starting the walk: each ends where
   * another begins. False unless that visits every segment once and ends where the walk began.
   */
  private order(count: number, nblock: number): boolean {
    const { startRow, endRow, from, to, segFrom, segTo } = this;
    let g = 0;
    let total = 0;
    for (let i = 0; i < count; i++) {
      segFrom[i] = from[g]!;
      segTo[i] = to[g]!;
      total += to[g]! - from[g]!;
      const end = endRow[g]!;
      g = -1;
      for (let h = 0; h < count; h++) if (startRow[h] === end) g = h;
      if (g < 0 || (g === 0) !== (i === count - 1)) return false;
    }
    this.segmentCount = count;
    return total === nblock;
  }
}
