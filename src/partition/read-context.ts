// What every table reader shares: the disk, its sector size and sector count, checked sector reads
// that never allocate more than asked for, and the warn/strict mechanism for recoverable anomalies.

import { SnapcloneError, type WarnFn, type Warning } from '../core/errors.js';
import type { ReadAt } from '../core/read-at.js';

/** The most sectors any single table read may ask for (the GPT entry array bound, 1 MiB, is smaller). */
const MAX_TABLE_READ_BYTES = 64 * 1024 * 1024;

export class ReadContext {
  readonly warnings: Warning[] = [];
  /** Whole sectors on the disk; a trailing partial sector (a VHD footer, a truncated file) is not one. */
  readonly diskSectors: number;

  constructor(
    readonly disk: ReadAt,
    readonly sectorSize: number,
    private readonly onWarning: WarnFn | undefined,
    private readonly strict: boolean,
  ) {
    this.diskSectors = Math.floor(disk.sizeBytes / sectorSize);
  }

  get lastLba(): number {
    return this.diskSectors - 1;
  }

  /** Records a recoverable anomaly; in strict mode it fails instead. */
  warn(code: string, message: string, byteOffset?: number): void {
    if (this.strict) throw new SnapcloneError(code, message, { byteOffset, hint: 'strict mode turns warnings into errors' });
    const w: Warning = byteOffset === undefined ? { code, message } : { code, message, byteOffset };
    this.warnings.push(w);
    this.onWarning?.(w);
  }

  /** The byte offset of `lba`, failing when it cannot be represented exactly. */
  byteOffsetOf(lba: number): number {
    const byteOffset = lba * this.sectorSize;
    if (!Number.isSafeInteger(byteOffset)) {
      throw new SnapcloneError('PT_LBA_TOO_LARGE', `sector ${lba} lies beyond what can be addressed`, {
        expected: `an LBA below ${Math.floor(Number.MAX_SAFE_INTEGER / this.sectorSize)}`,
        actual: lba,
      });
    }
    return byteOffset;
  }

  /** Reads `sectorCount` whole sectors at `lba`, or fails with PT_TRUNCATED naming `what`. */
  async readSectors(lba: number, sectorCount: number, what: string): Promise<Uint8Array> {
    const byteOffset = this.byteOffsetOf(lba);
    const length = sectorCount * this.sectorSize;
    if (length > MAX_TABLE_READ_BYTES) {
      throw new SnapcloneError('PT_TABLE_TOO_LARGE', `${what} is larger than any partition table can be`, {
        byteOffset,
        expected: `at most ${MAX_TABLE_READ_BYTES} bytes`,
        actual: `${length} bytes`,
      });
    }
    if (lba < 0 || lba + sectorCount > this.diskSectors) {
      throw new SnapcloneError('PT_TRUNCATED', `${what} lies past the end of the disk`, {
        byteOffset,
        expected: `sectors ${lba}..${lba + sectorCount - 1} inside the disk`,
        actual: `a disk of ${this.diskSectors} sectors of ${this.sectorSize} bytes`,
        hint: 'the disk or image is shorter than its partition table says: it may be truncated',
      });
    }
    const out = new Uint8Array(length);
    const n = await this.disk.readAt(out, byteOffset);
    if (n !== length) {
      throw new SnapcloneError('PT_TRUNCATED', `${what} is cut short: the disk ends first`, {
        byteOffset: byteOffset + n,
        expected: `${length} bytes`,
        actual: `${n} bytes`,
      });
    }
    return out;
  }
}

/** "0x1f4" for messages about sectors. */
export function hexLba(lba: number): string {
  return `${lba} (0x${lba.toString(16)})`;
}
