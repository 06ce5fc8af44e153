// The small positional I/O interfaces the pure layers read and write through.
// src/io implements them over files and block devices; tests use the in-memory ones below.

import { SnapcloneError } from './errors.js';

/** Random-access reads from a file, a block device, a partition inside one, or memory. */
export interface ReadAt {
  /** Size in bytes of what can be read. */
  readonly sizeBytes: number;
  /**
   * Fills `target` with the bytes starting at `byteOffset`. Returns how many bytes were read:
   * fewer than `target.length` only when the end was reached.
   */
  readAt(target: Uint8Array, byteOffset: number): Promise<number>;
}

/** Random-access writes; the counterpart of ReadAt for restores and layout writes. */
export interface WriteAt {
  readonly sizeBytes: number;
  writeAt(source: Uint8Array, byteOffset: number): Promise<void>;
}

/** Reads exactly `length` bytes at `byteOffset`, or fails with `code` naming what was being read. */
export async function readExactly(
  source: ReadAt,
  byteOffset: number,
  length: number,
  code: string,
  what: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const n = await source.readAt(out, byteOffset);
  if (n !== length) {
    throw new SnapcloneError(code, `${what} is cut short: the source ends first`, {
      byteOffset: byteOffset + n,
      expected: `${length} bytes`,
      actual: `${n} bytes`,
    });
  }
  return out;
}

/** A ReadAt/WriteAt over a Uint8Array, for tests and small in-memory structures. */
export class MemoryReadAt implements ReadAt, WriteAt {
  constructor(readonly bytes: Uint8Array) {}

  get sizeBytes(): number {
    return this.bytes.byteLength;
  }

  async readAt(target: Uint8Array, byteOffset: number): Promise<number> {
    if (byteOffset >= this.bytes.byteLength || byteOffset < 0) return 0;
    const n = Math.min(target.byteLength, this.bytes.byteLength - byteOffset);
    target.set(this.bytes.subarray(byteOffset, byteOffset + n));
    return n;
  }

  async writeAt(source: Uint8Array, byteOffset: number): Promise<void> {
    if (byteOffset < 0 || byteOffset + source.byteLength > this.bytes.byteLength) {
      throw new SnapcloneError('IO_WRITE_OUT_OF_RANGE', 'write beyond the end of the target', {
        kind: 'io',
        byteOffset,
        expected: `at most ${this.bytes.byteLength} bytes in all`,
        actual: `${byteOffset + source.byteLength}`,
      });
    }
    this.bytes.set(source, byteOffset);
  }
}

/** A window [startByte, startByte+sizeBytes) of another ReadAt: a partition inside a disk. */
export class SliceReadAt implements ReadAt {
  constructor(
    private readonly inner: ReadAt,
    readonly startByte: number,
    readonly sizeBytes: number,
  ) {}

  async readAt(target: Uint8Array, byteOffset: number): Promise<number> {
    if (byteOffset >= this.sizeBytes || byteOffset < 0) return 0;
    const n = Math.min(target.byteLength, this.sizeBytes - byteOffset);
    return this.inner.readAt(n === target.byteLength ? target : target.subarray(0, n), this.startByte + byteOffset);
  }
}

/** The write counterpart of SliceReadAt: writes land at `startByte + byteOffset`, never outside the window. */
export class SliceWriteAt implements WriteAt {
  constructor(
    private readonly inner: WriteAt,
    readonly startByte: number,
    readonly sizeBytes: number,
  ) {}

  async writeAt(source: Uint8Array, byteOffset: number): Promise<void> {
    if (byteOffset < 0 || byteOffset + source.byteLength > this.sizeBytes) {
      throw new SnapcloneError('IO_WRITE_OUT_OF_RANGE', 'write beyond the end of the partition', {
        kind: 'io',
        byteOffset: this.startByte + byteOffset,
        expected: `at most ${this.sizeBytes} bytes from ${this.startByte}`,
        actual: `${byteOffset + source.byteLength}`,
      });
    }
    return this.inner.writeAt(source, this.startByte + byteOffset);
  }
}
