// The inverse BWT walked by several chains at once must give exactly libbzip2's single-chain walk:
// on intact blocks (split into segments), and on damaged links (falls back to the single chain).

import { describe, expect, it } from 'vitest';
import { InverseBwt } from '../../src/bzip2/inverse-bwt.js';
import { rng } from './support/inputs.js';

/** tt holding `bytes` as the BWT output (low byte), with the counts; one spare row. */
function blockOf(bytes: Uint8Array): { tt: Int32Array; unzftab: Int32Array } {
  const tt = new Int32Array(bytes.length + 1);
  const unzftab = new Int32Array(256);
  for (let i = 0; i < bytes.length; i++) {
    tt[i] = bytes[i]!;
    unzftab[bytes[i]!]!++;
  }
  return { tt, unzftab };
}

/** libbzip2's walk, written out plainly: links by a stable counting sort, then nblock steps. */
function referenceWalk(bytes: Uint8Array, origPtr: number): Uint8Array {
  const n = bytes.length;
  const next = new Int32Array(n);
  const start = new Int32Array(257);
  for (const b of bytes) start[b + 1]!++;
  for (let c = 0; c < 256; c++) start[c + 1]! += start[c]!;
  for (let i = 0; i < n; i++) next[start[bytes[i]!]!++] = i;
  const out = new Uint8Array(n);
  let p = next[origPtr]!;
  for (let k = 0; k < n; k++) {
    out[k] = bytes[p]!;
    p = next[p]!;
  }
  return out;
}

function walked(bwt: InverseBwt): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let s = 0; s < bwt.segmentCount; s++) parts.push(bwt.symbols.slice(bwt.segFrom[s], bwt.segTo[s]));
  return Buffer.concat(parts);
}

/** A BWT output whose links form one cycle: the BWT of an actual text (sorted rotations, small n). */
function bwtOf(text: Uint8Array): { bytes: Uint8Array; origPtr: number } {
  const n = text.length;
  const rows = Array.from({ length: n }, (_, i) => i);
  rows.sort((a, b) => {
    for (let k = 0; k < n; k++) {
      const d = text[(a + k) % n]! - text[(b + k) % n]!;
      if (d !== 0) return d;
    }
    return 0;
  });
  const bytes = new Uint8Array(n);
  for (let r = 0; r < n; r++) bytes[r] = text[(rows[r]! + n - 1) % n]!;
  return { bytes, origPtr: rows.indexOf(0) };
}

describe('InverseBwt', () => {
  it('walks an intact block in segments, giving the text in order', () => {
    const r = rng(7);
    const text = new Uint8Array(40_000);
    for (let i = 0; i < text.length; i++) text[i] = r() < 1 / 7 ? 32 : 97 + Math.floor(r() * 26);
    const { bytes, origPtr } = bwtOf(text);
    const { tt, unzftab } = blockOf(bytes);
    const bwt = new InverseBwt();
    bwt.run(tt, unzftab, bytes.length, origPtr);
    expect(bwt.segmentCount).toBeGreaterThan(8);
    expect(Buffer.compare(walked(bwt), referenceWalk(bytes, origPtr))).toBe(0);
    expect(Buffer.compare(walked(bwt), text)).toBe(0);
    // The start flags are gone from tt.
    for (let i = 0; i < bytes.length; i++) expect(tt[i]! >= 0).toBe(true);
  });

  it('falls back to the single chain, as libbzip2 walks it, when the links form several cycles', () => {
    // Sorted bytes link every row to itself: n cycles of one row.
    const bytes = new Uint8Array(30_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor((i * 256) / bytes.length);
    const { tt, unzftab } = blockOf(bytes);
    const bwt = new InverseBwt();
    bwt.run(tt, unzftab, bytes.length, 12_345);
    expect(bwt.segmentCount).toBe(1);
    expect(Buffer.compare(walked(bwt), referenceWalk(bytes, 12_345))).toBe(0);
  });

  it('agrees with the reference on random (damaged) links of many sizes', () => {
    const r = rng(11);
    for (const n of [1, 2, 17, 16_383, 16_384, 16_385, 70_001]) {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = Math.floor(r() * 4);
      const origPtr = Math.floor(r() * n);
      const { tt, unzftab } = blockOf(bytes);
      const bwt = new InverseBwt();
      bwt.run(tt, unzftab, n, origPtr);
      expect(Buffer.compare(walked(bwt), referenceWalk(bytes, origPtr)), `n=${n}`).toBe(0);
    }
  });
});
