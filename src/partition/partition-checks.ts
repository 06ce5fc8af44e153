// Checks shared by dos and gpt labels: partitions past the end of the disk and overlapping partitions.
// Both are warnings (sfdisk -V reports them as errors but still lists the table); apply refuses a target
// that cannot hold every partition.

import { partitionEndLba, type Partition } from './layout.js';
import type { ReadContext } from './read-context.js';

/** Warns about every partition that ends past the last sector of the disk. */
export function checkPastEnd(ctx: ReadContext, partitions: readonly Partition[]): void {
  for (const p of partitions) {
    const end = partitionEndLba(p);
    if (end > ctx.lastLba) {
      ctx.warn(
        'PT_PARTITION_PAST_END',
        `partition ${p.number} ends at sector ${end}, past the last sector of the disk (${ctx.lastLba}); ` +
          `the disk is ${(end - ctx.lastLba) * ctx.sectorSize} bytes too short for it`,
        ctx.byteOffsetOf(ctx.diskSectors),
      );
    }
  }
}

/**
 * Warns about partitions that overlap, in O(n log n): sorted by start, each one is compared with the
 * furthest-reaching one before it. A dos extended container is allowed to hold its logical partitions.
 */
export function checkOverlaps(ctx: ReadContext, partitions: readonly Partition[]): void {
  const sorted = partitions.filter((p) => p.sectorCount > 0).sort((a, b) => a.startLba - b.startLba || a.number - b.number);
  let reach: Partition | undefined; // the partition with the largest end so far, containers excluded
  let container: Partition | undefined; // the extended partition, tracked separately
  let reported = 0;
  for (const p of sorted) {
    const others = [reach, container];
    for (const q of others) {
      if (!q || partitionEndLba(q) < p.startLba) continue;
      // Logicals live inside their container (one that leaks out gets its own warning from the EBR reader).
      if (q.kind === 'extended' && (p.kind === 'logical' || p.kind === 'extended')) continue;
      if (reported++ < 16) {
        ctx.warn(
          'PT_OVERLAP',
          `partition ${p.number} (sectors ${p.startLba}-${partitionEndLba(p)}) overlaps partition ${q.number} ` +
            `(sectors ${q.startLba}-${partitionEndLba(q)})`,
          ctx.byteOffsetOf(p.startLba),
        );
      }
    }
    if (p.kind === 'extended') {
      if (!container || partitionEndLba(p) > partitionEndLba(container)) container = p;
    } else if (!reach || partitionEndLba(p) > partitionEndLba(reach)) {
      reach = p;
    }
  }
}
