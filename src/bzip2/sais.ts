// SA-IS suffix sorting (Nong, Zhang and Chan, "Linear Suffix Array Construction by Almost Pure
// Induced-Sorting", 2009), written from the paper. Used by fallbackSort for the cyclic BWT
// (spec ../shared/spec/bzip2.md §2.3): linear time whatever the input.
//
// The text has a virtual sentinel after its end, smaller than every symbol; SA receives the n
// suffixes 0..n−1 in increasing order (the sentinel's own suffix is not stored).

/** Scratch reused between calls: type bits and bucket arrays, grown on demand. */
export class SaisWorkspace {
  types = new Uint8Array(0);
  bucket = new Int32Array(0);
  counts = new Int32Array(0);
  reduced = new Int32Array(0);
}

/**
 * Sorts the suffixes of text[0, n) (symbols in 0..alphabetSize−1) into sa[0, n).
 * `sa` must hold at least n entries.
 */
export function suffixSort(text: Int32Array, sa: Int32Array, n: number, alphabetSize: number, ws: SaisWorkspace): void {
  if (n === 0) return;
  if (n === 1) {
    sa[0] = 0;
    return;
  }
  if (ws.types.length < n) ws.types = new Uint8Array(Math.max(n, ws.types.length * 2));
  const types = ws.types;

  // Classify: S (1) if the suffix is smaller than the next one, L (0) otherwise. The last suffix is
  // L because the sentinel after it is smaller.
  types[n - 1] = 0;
  for (let i = n - 2; i >= 0; i--) {
    const a = text[i]!;
    const b = text[i + 1]!;
    types[i] = a < b || (a === b && types[i + 1] === 1) ? 1 : 0;
  }

  const counts = new Int32Array(alphabetSize);
  const bucket = new Int32Array(alphabetSize);
  for (let i = 0; i < n; i++) counts[text[i]!]!++;

  // Step 1: LMS suffixes at the ends of their buckets, in text order; induce to sort the LMS
  // substrings.
  sa.fill(-1, 0, n);
  bucketEnds(counts, bucket, alphabetSize);
  let n1 = 0;
  for (let i = 1; i < n; i++) {
    if (types[i] === 1 && types[i - 1] === 0) {
      sa[--bucket[text[i]!]!] = i;
      n1++;
    }
  }
  induce(text, sa, types, counts, bucket, n, alphabetSize);

  // Step 2: gather the sorted LMS positions at the front, name the LMS substrings.
  let m = 0;
  for (let i = 0; i < n; i++) {
    const p = sa[i]!;
    if (p > 0 && types[p] === 1 && types[p - 1] === 0) sa[m++] = p;
  }
  sa.fill(-1, n1, n);
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
  // The reduced string: names in text order, packed at the end of sa.
  for (let i = n - 1, j = n - 1; i >= n1; i--) {
    const v = sa[i]!;
    if (v >= 0) sa[j--] = v;
  }

  // Step 3: sort the reduced problem, recursively when names repeat.
  const reducedText = sa.subarray(n - n1, n);
  const reducedSa = sa.subarray(0, n1);
  if (name < n1) {
    // The recursion needs its own copy of the text because it reuses sa below it.
    const copy = new Int32Array(reducedText);
    suffixSort(copy, reducedSa, n1, name, new SaisWorkspace());
  } else {
    for (let i = 0; i < n1; i++) reducedSa[reducedText[i]!] = i;
  }

  // Step 4: map the reduced order back to LMS positions and induce the full order.
  // reducedText is reused to hold the LMS positions in text order.
  for (let i = 1, j = 0; i < n; i++) {
    if (types[i] === 1 && types[i - 1] === 0) sa[n - n1 + j++] = i;
  }
  for (let i = 0; i < n1; i++) sa[i] = sa[n - n1 + sa[i]!]!;
  sa.fill(-1, n1, n);
  bucketEnds(counts, bucket, alphabetSize);
  for (let i = n1 - 1; i >= 0; i--) {
    const p = sa[i]!;
    sa[i] = -1;
    sa[--bucket[text[p]!]!] = p;
  }
  induce(text, sa, types, counts, bucket, n, alphabetSize);
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

/** Induces L suffixes left to right from the placed ones, then S suffixes right to left. */
function induce(text: Int32Array, sa: Int32Array, types: Uint8Array, counts: Int32Array, bucket: Int32Array, n: number, k: number): void {
  bucketStarts(counts, bucket, k);
  // The sentinel suffix comes first; its predecessor n−1 is L.
  sa[bucket[text[n - 1]!]!++] = n - 1;
  for (let i = 0; i < n; i++) {
    const j = sa[i]! - 1;
    if (j >= 0 && types[j] === 0) sa[bucket[text[j]!]!++] = j;
  }
  bucketEnds(counts, bucket, k);
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i]! - 1;
    if (j >= 0 && types[j] === 1) sa[--bucket[text[j]!]!] = j;
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
