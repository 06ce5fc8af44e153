// Huffman code lengths and canonical codes for the encoder (libbzip2 huffman.c BZ2_hbMakeCodeLengths,
// BZ2_hbAssignCodes), reimplemented from their description in docs/spec/bzip2.md §1.6.
// The heap, its tie-breaking (weights carry the subtree depth in their low 8 bits) and the
// length-limiting rule (halve the frequencies and rebuild) follow libbzip2 so the lengths, and so
// the output, are the same as bzip2's.

import { BZ_MAX_ALPHA_SIZE } from './constants.js';

// Built once: nodes and heap entries count from 1, entry 0 is a sentinel.
const heap = new Int32Array(BZ_MAX_ALPHA_SIZE + 2);
const weight = new Int32Array(BZ_MAX_ALPHA_SIZE * 2);
const parent = new Int32Array(BZ_MAX_ALPHA_SIZE * 2);

/**
 * Code lengths (at most maxLen) for freq[freqOffset .. +alphaSize) into len[lenOffset ..).
 * Zero frequencies count as 1, so every symbol gets a code.
 */
export function hbMakeCodeLengths(
  len: Uint8Array,
  lenOffset: number,
  freq: Int32Array,
  freqOffset: number,
  alphaSize: number,
  maxLen: number,
): void {
  for (let i = 0; i < alphaSize; i++) {
    const f = freq[freqOffset + i]!;
    weight[i + 1] = (f === 0 ? 1 : f) << 8;
  }
  for (;;) {
    let nNodes = alphaSize;
    let nHeap = 0;
    heap[0] = 0;
    weight[0] = 0;
    parent[0] = -2;
    for (let i = 1; i <= alphaSize; i++) {
      parent[i] = -1;
      nHeap++;
      heap[nHeap] = i;
      upHeap(nHeap);
    }
    while (nHeap > 1) {
      const n1 = heap[1]!;
      heap[1] = heap[nHeap]!;
      nHeap--;
      downHeap(1, nHeap);
      const n2 = heap[1]!;
      heap[1] = heap[nHeap]!;
      nHeap--;
      downHeap(1, nHeap);
      nNodes++;
      parent[n1] = nNodes;
      parent[n2] = nNodes;
      const w1 = weight[n1]!;
      const w2 = weight[n2]!;
      const d1 = w1 & 0xff;
      const d2 = w2 & 0xff;
      weight[nNodes] = ((w1 & 0xffffff00) + (w2 & 0xffffff00)) | (1 + (d1 > d2 ? d1 : d2));
      parent[nNodes] = -1;
      nHeap++;
      heap[nHeap] = nNodes;
      upHeap(nHeap);
    }

    let tooLong = false;
    for (let i = 1; i <= alphaSize; i++) {
      let depth = 0;
      let k = i;
      while (parent[k]! >= 0) {
        k = parent[k]!;
        depth++;
      }
      len[lenOffset + i - 1] = depth;
      if (depth > maxLen) tooLong = true;
    }
    if (!tooLong) return;

    // Flatten the distribution and try again (bzip2 ≥ 1.0.3 limits codes to 17 bits this way).
    for (let i = 1; i <= alphaSize; i++) {
      const j = 1 + ((weight[i]! >> 8) >> 1);
      weight[i] = j << 8;
    }
  }
}

function upHeap(z: number): void {
  const tmp = heap[z]!;
  const w = weight[tmp]!;
  while (w < weight[heap[z >> 1]!]!) {
    heap[z] = heap[z >> 1]!;
    z >>= 1;
  }
  heap[z] = tmp;
}

function downHeap(z: number, nHeap: number): void {
  const tmp = heap[z]!;
  const w = weight[tmp]!;
  for (;;) {
    let y = z << 1;
    if (y > nHeap) break;
    if (y < nHeap && weight[heap[y + 1]!]! < weight[heap[y]!]!) y++;
    if (w < weight[heap[y]!]!) break;
    heap[z] = heap[y]!;
    z = y;
  }
  heap[z] = tmp;
}

/** Canonical codes: by increasing length, then symbol, numbered consecutively (BZ2_hbAssignCodes). */
export function hbAssignCodes(
  code: Int32Array,
  codeOffset: number,
  len: Uint8Array,
  lenOffset: number,
  minLen: number,
  maxLen: number,
  alphaSize: number,
): void {
  let vec = 0;
  for (let n = minLen; n <= maxLen; n++) {
    for (let i = 0; i < alphaSize; i++) {
      if (len[lenOffset + i] === n) code[codeOffset + i] = vec++;
    }
    vec <<= 1;
  }
}
