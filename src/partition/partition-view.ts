// Partitions as byte windows of their disk or LV (SliceReadAt / SliceWriteAt), so that backup and
// restore read and write a partition by offset, without kpartx or a kernel rescan.

import { SnapcloneError } from '../core/errors.js';
import { SliceReadAt, SliceWriteAt, type ReadAt, type WriteAt } from '../core/read-at.js';
import { partitionByteRange, type DiskLayout, type Partition } from './layout.js';

/** The partition numbered `number` (as Linux numbers it), or a PT_NO_SUCH_PARTITION error. */
export function findPartition(layout: Pick<DiskLayout, 'partitions'>, number: number): Partition {
  const p = layout.partitions.find((q) => q.number === number);
  if (!p) {
    throw new SnapcloneError('PT_NO_SUCH_PARTITION', `there is no partition ${number}`, {
      kind: 'usage',
      expected: layout.partitions.map((q) => q.number).join(', ') || 'no partitions at all',
      actual: number,
    });
  }
  return p;
}

function checkInside(p: Partition, diskSizeBytes: number): { byteOffset: number; byteLength: number } {
  const range = partitionByteRange(p);
  if (range.byteOffset + range.byteLength > diskSizeBytes) {
    throw new SnapcloneError('PT_PARTITION_PAST_END', `partition ${p.number} ends past the end of the disk`, {
      byteOffset: diskSizeBytes,
      expected: `a disk of at least ${range.byteOffset + range.byteLength} bytes`,
      actual: `${diskSizeBytes} bytes`,
    });
  }
  return range;
}

/** Reads partition `p` of `disk`; fails when the disk is too short to hold all of it. */
export function partitionReader(disk: ReadAt, p: Partition): SliceReadAt {
  const { byteOffset, byteLength } = checkInside(p, disk.sizeBytes);
  return new SliceReadAt(disk, byteOffset, byteLength);
}

/** Writes partition `p` of `disk`; writes outside it fail. */
export function partitionWriter(disk: WriteAt, p: Partition): SliceWriteAt {
  const { byteOffset, byteLength } = checkInside(p, disk.sizeBytes);
  return new SliceWriteAt(disk, byteOffset, byteLength);
}

/** Both at once, for a disk opened read-write. */
export function partitionView(disk: ReadAt & WriteAt, p: Partition): ReadAt & WriteAt {
  const reader = partitionReader(disk, p);
  const writer = partitionWriter(disk, p);
  return {
    sizeBytes: reader.sizeBytes,
    readAt: (target, byteOffset) => reader.readAt(target, byteOffset),
    writeAt: (source, byteOffset) => writer.writeAt(source, byteOffset),
  };
}
