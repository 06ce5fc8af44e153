// Finds every bit offset where the 48-bit block magic 0x314159265359 starts. At each of the 8 bit
// alignments the magic covers 5 whole bytes, found by Buffer.indexOf (native substring search, ~1 ms
// per MB per alignment where a byte-at-a-time automaton took ~3 ms/MB on the main thread); the
// partial bytes on either side are then checked. Candidates are only hints: the parser keeps those
// that chain. Spec docs/spec/bzip2.md §3.2 (scanner) and §3.3 (foreign files).

import { BLOCK_MAGIC_HI, BLOCK_MAGIC_LO } from './constants.js';

/** Bytes a magic at any alignment touches: 6 when it starts on a byte boundary, else 7. */
const SPAN_BYTES = 7;

/** The magic starting at bit `shift` (0 = MSB) of a byte: its 7 bytes, masked to the magic's bits. */
interface Alignment {
  shift: number;
  /** Bytes 1..5 of the span: whole bytes of the magic at every alignment. */
  needle: Buffer;
  headMask: number;
  headValue: number;
  tailMask: number;
  tailValue: number;
  /** Index in the span of its last byte holding magic bits (5 or 6). */
  lastByte: number;
}

const ALIGNMENTS: Alignment[] = buildAlignments();

function buildAlignments(): Alignment[] {
  const magic = (BigInt(BLOCK_MAGIC_HI) << 24n) | BigInt(BLOCK_MAGIC_LO);
  const out: Alignment[] = [];
  for (let shift = 0; shift < 8; shift++) {
    const value = magic << BigInt(8 - shift); // in a 56-bit (7-byte) span
    const mask = ((1n << 48n) - 1n) << BigInt(8 - shift);
    const byteOf = (v: bigint, i: number): number => Number((v >> BigInt(8 * (SPAN_BYTES - 1 - i))) & 0xffn);
    const needle = Buffer.alloc(5);
    for (let i = 1; i <= 5; i++) needle[i - 1] = byteOf(value, i);
    out.push({
      shift,
      needle,
      headMask: byteOf(mask, 0),
      headValue: byteOf(value, 0),
      tailMask: byteOf(mask, 6),
      tailValue: byteOf(value, 6),
      lastByte: shift === 0 ? 5 : 6,
    });
  }
  return out;
}

/** True if the magic at alignment `a` starts in bytes[k] (the span's whole bytes already match or not). */
function matchesAt(bytes: Uint8Array, k: number, a: Alignment, checkNeedle: boolean): boolean {
  if ((bytes[k]! & a.headMask) !== a.headValue) return false;
  if (a.tailMask !== 0 && (bytes[k + 6]! & a.tailMask) !== a.tailValue) return false;
  if (checkNeedle) for (let i = 0; i < 5; i++) if (bytes[k + 1 + i] !== a.needle[i]) return false;
  return true;
}

/** Incremental scanner: feed consecutive input pieces; it keeps their last bytes for magics that straddle them. */
export class BlockMagicScanner {
  /** The last (up to SPAN_BYTES - 1) bytes scanned: a magic may start in them and end in the next piece. */
  private carry = new Uint8Array(0);
  /** Absolute byte offset of the next byte to scan. */
  scannedByte = 0;

  /**
   * Scans bytes[from, to), which sit at absolute byte offset `scannedByte`, and appends the absolute
   * bit offsets of the magics found (their first bit), ascending, to `out`. Each magic is reported
   * by the call that supplies its last byte.
   */
  scan(bytes: Uint8Array, from: number, to: number, out: number[]): void {
    if (to <= from) return;
    const startByte = this.scannedByte;
    // Magics starting in the carry: the carry and the first bytes of this piece, checked directly.
    const carry = this.carry;
    if (carry.length > 0) {
      const joined = new Uint8Array(carry.length + Math.min(to - from, SPAN_BYTES - 1));
      joined.set(carry, 0);
      joined.set(bytes.subarray(from, from + joined.length - carry.length), carry.length);
      for (let k = 0; k < carry.length; k++) {
        for (const a of ALIGNMENTS) {
          const last = k + a.lastByte;
          // Ending in the carry: reported by an earlier call; past `joined`: by a later one.
          if (last < carry.length || last >= joined.length) continue;
          if (matchesAt(joined, k, a, true)) out.push((startByte - carry.length + k) * 8 + a.shift);
        }
      }
    }
    // Magics starting in this piece and ending in it.
    const found: number[] = [];
    const piece = Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from);
    for (const a of ALIGNMENTS) {
      for (let p = piece.indexOf(a.needle, 1); p >= 0; p = piece.indexOf(a.needle, p + 1)) {
        const k = p - 1; // the span's first byte, in the piece
        if (k + a.lastByte >= piece.length) break;
        if (matchesAt(piece, k, a, false)) found.push((startByte + k) * 8 + a.shift);
      }
    }
    if (found.length > 1) found.sort((x, y) => x - y);
    for (const bit of found) out.push(bit);
    // The new carry: the last SPAN_BYTES - 1 bytes of carry + piece.
    const keep = SPAN_BYTES - 1;
    if (to - from >= keep) {
      this.carry = bytes.slice(to - keep, to);
    } else {
      const joined = new Uint8Array(carry.length + (to - from));
      joined.set(carry, 0);
      joined.set(bytes.subarray(from, to), carry.length);
      this.carry = joined.slice(Math.max(0, joined.length - keep));
    }
    this.scannedByte += to - from;
  }
}
