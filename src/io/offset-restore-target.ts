// A RestoreTarget that is a window of an open disk (a partition of a file or a block device being
// restored): writes land at baseByte + offset, never outside the window, several in flight at once,
// and every cluster written is marked so that the restored volume's $Bitmap can be compared with
// what the image held. The disk itself is synced and closed by its owner.
// Spec: docs/spec/ntfsclone-format.md §5 (the NCL*CS+512 size rule).

import type { FileHandle } from 'node:fs/promises';
import { SnapcloneError } from '../core/errors.js';
import { minimumTargetBytes, type RestoreGeometry, type RestoreTarget } from './restore-target.js';
import { ioError } from './source-file.js';

export class OffsetRestoreTarget implements RestoreTarget {
  readonly positional = true;
  private clusterSize = 0;
  /** Bit c set: cluster c was written (allocated by begin()). */
  writtenClusters: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    readonly baseByte: number,
    readonly sizeBytes: number,
    readonly description: string,
  ) {}

  async begin(g: RestoreGeometry): Promise<void> {
    const need = minimumTargetBytes(g);
    if (this.sizeBytes < need) {
      throw new SnapcloneError('IO_TARGET_TOO_SMALL', `${this.description} is too small for the NTFS volume of its image`, {
        kind: 'refused',
        path: this.path,
        expected: `at least ${need} bytes`,
        actual: `${this.sizeBytes} bytes`,
      });
    }
    this.clusterSize = g.clusterSize;
    this.writtenClusters = new Uint8Array(Math.ceil((g.nrClusters + 1) / 8));
  }

  write(bytes: Uint8Array, volumeByteOffset: number): Promise<void> {
    return this.writev([bytes], volumeByteOffset);
  }

  async writev(pieces: Uint8Array[], volumeByteOffset: number): Promise<void> {
    let length = 0;
    for (const p of pieces) length += p.byteLength;
    if (volumeByteOffset < 0 || volumeByteOffset + length > this.sizeBytes) {
      throw new SnapcloneError('IO_WRITE_OUT_OF_RANGE', `a write falls outside ${this.description}`, {
        kind: 'io',
        path: this.path,
        byteOffset: this.baseByte + volumeByteOffset,
        expected: `writes within ${this.sizeBytes} bytes from ${this.baseByte}`,
        actual: `${length} bytes at ${volumeByteOffset}`,
      });
    }
    this.mark(volumeByteOffset, length);
    let rest = pieces;
    let at = this.baseByte + volumeByteOffset;
    while (rest.length > 0) {
      let n: number;
      try {
        ({ bytesWritten: n } = await this.handle.writev(rest, at));
      } catch (e) {
        throw ioError(e, this.path, `write at offset ${at} of`);
      }
      at += n;
      let i = 0;
      while (i < rest.length && n >= (rest[i] as Uint8Array).byteLength) n -= (rest[i++] as Uint8Array).byteLength;
      rest = rest.slice(i);
      if (n > 0 && rest.length > 0) rest[0] = (rest[0] as Uint8Array).subarray(n);
    }
  }

  async skipTo(): Promise<void> {}

  async finish(): Promise<void> {}

  async abort(): Promise<void> {}

  private mark(byteOffset: number, length: number): void {
    if (this.clusterSize === 0 || length === 0) return;
    const last = Math.floor((byteOffset + length - 1) / this.clusterSize);
    const bits = this.writtenClusters;
    for (let c = Math.floor(byteOffset / this.clusterSize); c <= last && c >>> 3 < bits.length; c++) {
      bits[c >>> 3] = (bits[c >>> 3] as number) | (1 << (c & 7));
    }
  }
}
