// SA-IS suffix sorting (Nong, Zhang and Chan, "Linear Suffix Array Construction by Almost Pure
// Induced-Sorting", 2009), written from the paper. Used by fallbackSort for the cyclic BWT
// (spec docs/spec/bzip2.md §2.3): linear time whatever the input.
//
// The text has a virtual sentinel after its end, smaller than every symbol; SA receives the n
// suffixes 0..n−1 in increasing order (the sentinel's own suffix is not stored).
//
// Speed: the induce loops never look at the type array. Each entry carries, in its sign, whether
// the suffix before it is S-type (negative) or L-type (non-negative): an L suffix j's predecessor
// is L iff T[j−1] >= T[j], an S suffix's predecessor is S iff T[j−1] <= T[j], so the sign is known
// when the entry is written. The L pass induces from non-negative entries, the S pass from negative
// ones (and clears the sign). Bucket pointers are cached while consecutive entries share a bucket.

/** Scratch reused between calls: type bytes, the text widened to ints, buckets; grown on demand. */
export class SaisWorkspace {
  types = new Uint8Array(0);
  wide: Int32Array = new Int32Array(0);
  counts = new Int32Array(256);
  bucket = new Int32Array(256);
}

/**
 * Sorts the suffixes of the byte string text[0, n) into sa[0, n) (at least n entries).
 *
 * Every pass runs on the text widened to an Int32Array, the type the reduced problems have too,
 * so V8 compiles each loop for one element kind; only the two induce passes, the random-access
 * heavy ones, read the original bytes (a quarter of the cache footprint).
 */
export function suffixSortBytes(text: Uint8Array, sa: Int32Array, n: number, ws: SaisWorkspace): void {
  if (ws.wide.length < n) ws.wide = new Int32Array(n);
  const wide = ws.wide;
  for (let i = 0; i < n; i++) wide[i] = text[i]!;
  suffixSort(wide, text, sa, n, 256, ws);
}

/**
 * Sorts the suffixes of text[0, n) (symbols in 0..alphabetSize−1) into sa[0, n). `bytes` is the
 * same text as bytes at the top level, null for reduced problems.
 */
function suffixSort(text: Int32Array, bytes: Uint8Array | null, sa: Int32Array, n: number, alphabetSize: number, ws: SaisWorkspace): void {
  if (n === 0) return;
  if (n === 1) {
    sa[0] = 0;
    return;
  }
  if (ws.types.length < n) ws.types = new Uint8Array(Math.max(n, ws.types.length * 2));
  if (ws.counts.length < alphabetSize) {
    ws.counts = new Int32Array(alphabetSize);
    ws.bucket = new Int32Array(alphabetSize);
  }
  const types = ws.types;
  const counts = ws.counts;
  const bucket = ws.bucket;
  const k = alphabetSize;

  // Each loop below is its own function: V8 compiles it whole, with complete type feedback,
  // rather than entering on-stack-replaced code that deoptimises after the loop on every call.
  classify(text, types, n);
  countSymbols(text, counts, n, k);

  // Stage 1: LMS suffixes at the ends of their buckets, in text order; induce to sort the LMS
  // substrings.
  sa.fill(0, 0, n);
  bucketEnds(counts, bucket, k);
  const n1 = placeLmsSeeds(text, types, sa, bucket, n);
  induce(text, bytes, sa, counts, bucket, n, k);

  // Stage 2: gather the sorted LMS positions at the front, name the LMS substrings, and pack the
  // names in text order at the end of sa: the reduced string.
  gatherLms(sa, types, n);
  sa.fill(-1, n1, n);
  const names = nameLms(text, types, sa, n, n1);
  packReduced(sa, n, n1);

  // Stage 3: sort the reduced problem, recursively when names repeat.
  const reducedSa = sa.subarray(0, n1);
  if (names < n1) {
    // The recursion needs its own copy of the text (it reuses sa below it) and its own scratch.
    const reducedText = sa.slice(n - n1, n);
    suffixSort(reducedText, null, reducedSa, n1, names, new SaisWorkspace());
  } else {
    invertReduced(sa, n, n1);
  }

  // Stage 4: map the reduced order back to LMS positions and induce the full order.
  lmsPositions(types, sa, n, n1);
  mapReduced(sa, n, n1);
  sa.fill(0, n1, n);
  bucketEnds(counts, bucket, k);
  placeSortedLms(text, sa, bucket, n1);
  induce(text, bytes, sa, counts, bucket, n, k);
}

/** S (1) if the suffix is smaller than the next one, L (0) otherwise; the last is L (sentinel). */
function classify(text: Int32Array, types: Uint8Array, n: number): void {
  types[n - 1] = 0;
  let next = text[n - 1]!;
  let nextType = 0;
  for (let i = n - 2; i >= 0; i--) {
    const c = text[i]!;
    nextType = c < next || (c === next && nextType === 1) ? 1 : 0;
    types[i] = nextType;
    next = c;
  }
}

function countSymbols(text: Int32Array, counts: Int32Array, n: number, k: number): void {
  counts.fill(0, 0, k);
  for (let i = 0; i < n; i++) counts[text[i]!]!++;
}

/** Puts every LMS position at the end of its bucket; returns how many there are. */
function placeLmsSeeds(text: Int32Array, types: Uint8Array, sa: Int32Array, bucket: Int32Array, n: number): number {
  let n1 = 0;
  let right = types[n - 1]!;
  for (let i = n - 1; i >= 1; i--) {
    const left = types[i - 1]!;
    if (right === 1 && left === 0) {
      sa[--bucket[text[i]!]!] = i;
      n1++;
    }
    right = left;
  }
  return n1;
}

/** Moves the LMS positions, in their induced order, to the front of sa. */
function gatherLms(sa: Int32Array, types: Uint8Array, n: number): void {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const p = sa[i]!;
    if (p > 0 && types[p] === 1 && types[p - 1] === 0) sa[m++] = p;
  }
}

/**
 * Names the sorted LMS substrings in sa[0, n1) (equal substrings, equal names) into
 * sa[n1 + pos/2]; returns the number of distinct names.
 */
function nameLms(text: Int32Array, types: Uint8Array, sa: Int32Array, n: number, n1: number): number {
  let name = 0;
  let prev = -1;
  for (let i = 0; i < n1; i++) {
    const pos = sa[i]!;
    if (prev < 0 || !sameLmsSubstring(text, types, n, pos, prev)) {
      name++;
      prev = pos;
    }
    // LMS positions are at least 2 apart, so pos >> 1 gives each its own slot after n1.
    sa[n1 + (pos >> 1)] = name - 1;
  }
  return name;
}

/** The names in text order, packed at the end of sa. */
function packReduced(sa: Int32Array, n: number, n1: number): void {
  for (let i = n - 1, j = n - 1; i >= n1; i--) {
    const v = sa[i]!;
    if (v >= 0) sa[j--] = v;
  }
}

/** Unique names: the reduced suffix array is the inverse of the reduced string. */
function invertReduced(sa: Int32Array, n: number, n1: number): void {
  for (let i = 0; i < n1; i++) sa[sa[n - n1 + i]!] = i;
}

/** The LMS positions in text order, at the end of sa. */
function lmsPositions(types: Uint8Array, sa: Int32Array, n: number, n1: number): void {
  for (let i = 1, j = n - n1; i < n; i++) {
    if (types[i] === 1 && types[i - 1] === 0) sa[j++] = i;
  }
}

/** Reduced ranks in sa[0, n1) to LMS positions. */
function mapReduced(sa: Int32Array, n: number, n1: number): void {
  const base = n - n1;
  for (let i = 0; i < n1; i++) sa[i] = sa[base + sa[i]!]!;
}

/** The sorted LMS positions to the ends of their buckets, largest first. */
function placeSortedLms(text: Int32Array, sa: Int32Array, bucket: Int32Array, n1: number): void {
  for (let i = n1 - 1; i >= 0; i--) {
    const p = sa[i]!;
    sa[i] = 0;
    sa[--bucket[text[p]!]!] = p;
  }
}

function bucketEnds(counts: Int32Array, bucket: Int32Array, k: number): void {
  let sum = 0;
  for (let c = 0; c < k; c++) {
    sum += counts[c]!;
    bucket[c] = sum;
  }
}

function bucketStarts(counts: Int32Array, bucket: Int32Array, k: number): void {
  let sum = 0;
  for (let c = 0; c < k; c++) {
    bucket[c] = sum;
    sum += counts[c]!;
  }
}

/**
 * Induces L suffixes left to right from the placed (LMS) ones, then S suffixes right to left.
 * On entry sa holds LMS positions (positive: their predecessors are L) and zeros; 0 is inert
 * (suffix 0 has no predecessor). On return every entry is a non-negative suffix index.
 *
 * Each pass is its own function, once per text type: V8 then compiles each loop as a whole
 * function with complete type feedback and one element kind, instead of entering on-stack-replaced
 * code that deoptimises at the first statement after the loop on every call.
 */
function induce(text: Int32Array, bytes: Uint8Array | null, sa: Int32Array, counts: Int32Array, bucket: Int32Array, n: number, k: number): void {
  bucketStarts(counts, bucket, k);
  if (bytes !== null) inducePassLBytes(bytes, sa, bucket, n);
  else inducePassLInts(text, sa, bucket, n);
  bucketEnds(counts, bucket, k);
  if (bytes !== null) inducePassSBytes(bytes, sa, bucket, n);
  else inducePassSInts(text, sa, bucket, n);
}

function inducePassLBytes(text: Uint8Array, sa: Int32Array, bucket: Int32Array, n: number): void {
  // The sentinel suffix comes first; its predecessor n−1 is L.
  let j = n - 1;
  let c1 = text[j]!;
  let b = bucket[c1]!;
  sa[b++] = text[j - 1]! < c1 ? ~j : j;
  for (let i = 0; i < n; i++) {
    j = sa[i]!;
    if (j > 0) {
      j--;
      const c0 = text[j]!;
      if (c0 !== c1) {
        bucket[c1] = b;
        c1 = c0;
        b = bucket[c1]!;
      }
      sa[b++] = j > 0 && text[j - 1]! < c0 ? ~j : j;
    }
  }
}

function inducePassSBytes(text: Uint8Array, sa: Int32Array, bucket: Int32Array, n: number): void {
  let c1 = 0;
  let b = bucket[0]!;
  for (let i = n - 1; i >= 0; i--) {
    let j = sa[i]!;
    if (j < 0) {
      j = ~j;
      sa[i] = j;
      j--;
      const c0 = text[j]!;
      if (c0 !== c1) {
        bucket[c1] = b;
        c1 = c0;
        b = bucket[c1]!;
      }
      sa[--b] = j > 0 && text[j - 1]! <= c0 ? ~j : j;
    }
  }
}

/** inducePassLBytes for the reduced problems, whose symbols need more than 8 bits. */
function inducePassLInts(text: Int32Array, sa: Int32Array, bucket: Int32Array, n: number): void {
  let j = n - 1;
  let c1 = text[j]!;
  let b = bucket[c1]!;
  sa[b++] = text[j - 1]! < c1 ? ~j : j;
  for (let i = 0; i < n; i++) {
    j = sa[i]!;
    if (j > 0) {
      j--;
      const c0 = text[j]!;
      if (c0 !== c1) {
        bucket[c1] = b;
        c1 = c0;
        b = bucket[c1]!;
      }
      sa[b++] = j > 0 && text[j - 1]! < c0 ? ~j : j;
    }
  }
}

/** inducePassSBytes for the reduced problems. */
function inducePassSInts(text: Int32Array, sa: Int32Array, bucket: Int32Array, n: number): void {
  let c1 = 0;
  let b = bucket[0]!;
  for (let i = n - 1; i >= 0; i--) {
    let j = sa[i]!;
    if (j < 0) {
      j = ~j;
      sa[i] = j;
      j--;
      const c0 = text[j]!;
      if (c0 !== c1) {
        bucket[c1] = b;
        c1 = c0;
        b = bucket[c1]!;
      }
      sa[--b] = j > 0 && text[j - 1]! <= c0 ? ~j : j;
    }
  }
}

/** Are the LMS substrings starting at a and b equal (same symbols and types up to the next LMS)? */
function sameLmsSubstring(text: Int32Array, types: Uint8Array, n: number, a: number, b: number): boolean {
  for (let d = 0; ; d++) {
    const ia = a + d;
    const ib = b + d;
    // Running into the sentinel: only the substring that ends there reaches it, so unequal.
    if (ia === n || ib === n) return false;
    if (text[ia] !== text[ib] || types[ia] !== types[ib]) return false;
    if (d > 0) {
      const lmsA = types[ia] === 1 && types[ia - 1] === 0;
      const lmsB = types[ib] === 1 && types[ib - 1] === 0;
      if (lmsA && lmsB) return true;
      if (lmsA !== lmsB) return false;
    }
  }
}
