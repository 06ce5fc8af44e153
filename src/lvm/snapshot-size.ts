// How large a snapshot's copy-on-write area should be (pure): the user's --snapshot-size, or by default
// 10% of the LV and at least 256 MiB, never more than a full copy needs, rounded up to whole extents,
// and refused early (LVM_NO_SPACE, with the numbers) when the VG has no room. Spec: anchors.md §4 item 1.

import { SnapcloneError } from '../core/errors.js';
import { formatBytes } from '../core/units.js';

export const DEFAULT_SNAPSHOT_FRACTION = 0.1;
export const MIN_DEFAULT_SNAPSHOT_BYTES = 256 * 1024 * 1024;

/** dm-snapshot's default chunk; each chunk copied costs a 16-byte exception record besides the data. */
const COW_CHUNK_BYTES = 4096;
const EXCEPTION_RECORD_BYTES = 16;

export interface SnapshotSizeInput {
  vgName: string;
  lvName: string;
  lvSizeBytes: number;
  vgFreeBytes: number;
  extentSizeBytes: number;
  /** --snapshot-size, when given. */
  requestedBytes?: number;
}

export interface SnapshotSizePlan {
  sizeBytes: number;
  extents: number;
  /** Where the size came from: the option, the default policy, or the cap at a full copy. */
  basis: 'requested' | 'default' | 'full-copy';
}

/**
 * The most a classic snapshot of `lvSizeBytes` can ever use: every chunk copied, plus the exception
 * records and the header. lvcreate itself reduces a larger request to about this.
 */
export function fullCopySnapshotBytes(lvSizeBytes: number): number {
  const chunks = Math.ceil(lvSizeBytes / COW_CHUNK_BYTES);
  const exceptionsPerChunk = COW_CHUNK_BYTES / EXCEPTION_RECORD_BYTES;
  const metadataChunks = Math.ceil(chunks / exceptionsPerChunk);
  return (chunks + metadataChunks + 1) * COW_CHUNK_BYTES; // + 1: the header chunk
}

export function planSnapshotSize(input: SnapshotSizeInput): SnapshotSizePlan {
  const { extentSizeBytes } = input;
  if (!(extentSizeBytes > 0) || !Number.isSafeInteger(extentSizeBytes)) {
    throw new SnapcloneError('LVM_BAD_REPORT', `VG ${input.vgName} reports an extent size of ${extentSizeBytes}`, { kind: 'external' });
  }
  const roundUp = (bytes: number): number => Math.ceil(bytes / extentSizeBytes) * extentSizeBytes;
  const fullCopy = roundUp(fullCopySnapshotBytes(input.lvSizeBytes));
  let sizeBytes: number;
  let basis: SnapshotSizePlan['basis'];
  if (input.requestedBytes !== undefined) {
    if (!(input.requestedBytes > 0)) {
      throw new SnapcloneError('USAGE_BAD_SIZE', '--snapshot-size must be larger than 0', { kind: 'usage', actual: input.requestedBytes });
    }
    sizeBytes = roundUp(input.requestedBytes);
    basis = 'requested';
  } else {
    sizeBytes = roundUp(Math.max(input.lvSizeBytes * DEFAULT_SNAPSHOT_FRACTION, MIN_DEFAULT_SNAPSHOT_BYTES));
    basis = 'default';
  }
  if (sizeBytes >= fullCopy) {
    sizeBytes = fullCopy;
    basis = 'full-copy';
  }
  if (sizeBytes > input.vgFreeBytes) {
    const largest = Math.floor(input.vgFreeBytes / extentSizeBytes) * extentSizeBytes;
    throw new SnapcloneError(
      'LVM_NO_SPACE',
      `volume group ${input.vgName} has ${formatBytes(input.vgFreeBytes)} free, too little for a ` +
        `${formatBytes(sizeBytes)} snapshot of ${input.vgName}/${input.lvName} (${formatBytes(input.lvSizeBytes)})`,
      {
        kind: 'refused',
        expected: `${sizeBytes} bytes free`,
        actual: `${input.vgFreeBytes} bytes free`,
        hint:
          largest > 0
            ? `free space in ${input.vgName} (vgextend, or remove unused LVs), or accept a smaller snapshot with ` +
              `--snapshot-size ${Math.floor(largest / (1024 * 1024))}M or less: it must hold everything written to the LV while the backup runs`
            : `free space in ${input.vgName}: vgextend it with another PV, or remove unused LVs`,
      },
    );
  }
  return { sizeBytes, extents: sizeBytes / extentSizeBytes, basis };
}
