// Checked little-endian reads and writes on unaligned packed structures (habits 2-4 of STYLE.md).
// 64-bit fields are read as bigint at the edge and narrowed to number with a range check.

import { SnapcloneError } from './errors.js';

/** A DataView over exactly the bytes of `bytes` (which may be a subarray of a larger buffer). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads an unsigned 64-bit little-endian value and narrows it to a safe integer.
 * Fails with `code` when it does not fit (more than 2^53 - 1).
 */
export function readU64Safe(view: DataView, byteOffset: number, code: string, what: string): number {
  const v = view.getBigUint64(byteOffset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SnapcloneError(code, `${what} is too large to handle`, {
      byteOffset,
      expected: `at most ${Number.MAX_SAFE_INTEGER}`,
      actual: v,
    });
  }
  return Number(v);
}

/** Signed 64-bit little-endian, narrowed to a safe integer with a range check. */
export function readI64Safe(view: DataView, byteOffset: number, code: string, what: string): number {
  const v = view.getBigInt64(byteOffset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new SnapcloneError(code, `${what} is out of range`, {
      byteOffset,
      expected: `within +-${Number.MAX_SAFE_INTEGER}`,
      actual: v,
    });
  }
  return Number(v);
}

export function writeU64(view: DataView, byteOffset: number, value: number | bigint): void {
  view.setBigUint64(byteOffset, BigInt(value), true);
}

export function writeI64(view: DataView, byteOffset: number, value: number | bigint): void {
  view.setBigInt64(byteOffset, BigInt(value), true);
}

/** True when every byte of `bytes` is zero. */
export function isAllZero(bytes: Uint8Array): boolean {
  // Compare 8 bytes at a time where alignment allows; this runs over every cluster of a restore.
  const n = bytes.byteLength;
  let i = 0;
  if ((bytes.byteOffset & 7) === 0 && n >= 8) {
    const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, n >>> 3);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0n) return false;
    i = words.length << 3;
  }
  for (; i < n; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Lower-case hex of a byte range, for error messages and GUID formatting. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] as number).toString(16).padStart(2, '0');
  return s;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
