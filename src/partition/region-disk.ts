// A read-only disk made of a layout's saved regions and zeros elsewhere: lets a saved layout be parsed
// again by the same readers that parsed the real disk (the load-time consistency check).

import type { ReadAt } from '../core/read-at.js';
import type { LayoutRegion } from './layout.js';

export class RegionDisk implements ReadAt {
  private readonly spans: { byteOffset: number; bytes: Uint8Array }[];

  constructor(
    regions: readonly LayoutRegion[],
    sectorSize: number,
    readonly sizeBytes: number,
  ) {
    this.spans = regions.map((r) => ({ byteOffset: r.lba * sectorSize, bytes: r.bytes })).sort((a, b) => a.byteOffset - b.byteOffset);
  }

  async readAt(target: Uint8Array, byteOffset: number): Promise<number> {
    if (byteOffset < 0 || byteOffset >= this.sizeBytes) return 0;
    const n = Math.min(target.byteLength, this.sizeBytes - byteOffset);
    const end = byteOffset + n;
    target.fill(0, 0, n);
    for (const s of this.spans) {
      const sEnd = s.byteOffset + s.bytes.byteLength;
      if (sEnd <= byteOffset || s.byteOffset >= end) continue;
      const from = Math.max(byteOffset, s.byteOffset);
      const to = Math.min(end, sEnd);
      target.set(s.bytes.subarray(from - s.byteOffset, to - s.byteOffset), from - byteOffset);
    }
    return n;
  }
}
