// Runlists: the mapping pairs of a non-resident attribute, decoded into (VCN, LCN, length) runs.
// Sparse runs have no LCN. Spec: docs/spec/ntfsclone-format.md §3 (the walk marks every
// cluster of every real run; negative LCNs and lengths are corrupt).

import { SnapcloneError } from '../core/errors.js';

/** LCN of a sparse run (a hole: no clusters on disk). */
export const LCN_HOLE = -1;

export interface Run {
  vcn: number;
  /** First cluster on the volume, or LCN_HOLE. */
  lcn: number;
  /** Clusters in the run, at least 1. */
  length: number;
}

/** Reads a little-endian signed integer of `size` (1..8) bytes as a number, or NaN if unsafe. */
function readSigned(bytes: Uint8Array, pos: number, size: number): number {
  if (size <= 6) {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (bytes[pos + i] as number);
    const bits = size * 8;
    if ((bytes[pos + size - 1] as number) & 0x80) v -= 2 ** bits;
    return v;
  }
  let big = 0n;
  for (let i = size - 1; i >= 0; i--) big = (big << 8n) | BigInt(bytes[pos + i] as number);
  big = BigInt.asIntN(size * 8, big);
  return big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER) ? Number.NaN : Number(big);
}

export interface RunlistContext {
  /** Record number, for messages. */
  recordNumber: number;
  /** Where `bytes[0]` sits on the volume, for error offsets. */
  volumeByteOffset: number;
  /** Runs must end at or before this cluster (nr_clusters). */
  nrClusters: number;
}

function runError(ctx: RunlistContext, message: string, pos: number, expected: unknown, actual: unknown): SnapcloneError {
  return new SnapcloneError('NTFS_BAD_RUNLIST', `MFT record ${ctx.recordNumber}: ${message}`, {
    byteOffset: ctx.volumeByteOffset + pos,
    expected,
    actual,
    hint: 'the MFT record is damaged: run chkdsk /f on Windows',
  });
}

/**
 * Decodes the mapping pairs in bytes[start, end) of an attribute whose runs start at `lowestVcn`.
 * `highestVcn` (when not 0, as libntfs-3g) must be the last VCN the pairs cover. Real runs must lie
 * within the volume: a run past nr_clusters fails with NTFS_RUN_OUT_OF_RANGE.
 */
export function decodeRunlist(
  bytes: Uint8Array,
  start: number,
  end: number,
  lowestVcn: number,
  highestVcn: number,
  ctx: RunlistContext,
): Run[] {
  const runs: Run[] = [];
  forEachRun(bytes, start, end, lowestVcn, highestVcn, ctx, (vcn, lcn, length) => {
    runs.push({ vcn, lcn, length });
  });
  return runs;
}

/**
 * decodeRunlist without the array: calls `onRun(vcn, lcn, length)` for each run, with the same
 * checks (the MFT walk decodes every runlist of the volume and keeps none of them).
 */
export function forEachRun(
  bytes: Uint8Array,
  start: number,
  end: number,
  lowestVcn: number,
  highestVcn: number,
  ctx: RunlistContext,
  onRun: (vcn: number, lcn: number, length: number) => void,
): void {
  let pos = start;
  let vcn = lowestVcn;
  let lcn = 0;
  for (;;) {
    if (pos >= end) throw runError(ctx, 'the mapping pairs have no terminator', pos, `a 0 byte before ${end}`, 'the end of the attribute');
    const header = bytes[pos] as number;
    if (header === 0) break;
    const lengthSize = header & 0x0f;
    const offsetSize = header >> 4;
    if (lengthSize === 0 || lengthSize > 8 || offsetSize > 8) {
      throw runError(ctx, 'a mapping pair header is invalid', pos, 'length size 1..8, offset size 0..8', `0x${header.toString(16)}`);
    }
    if (pos + 1 + lengthSize + offsetSize > end) {
      throw runError(ctx, 'a mapping pair runs past the attribute', pos, `${1 + lengthSize + offsetSize} bytes before ${end}`, end - pos);
    }
    const length = readSigned(bytes, pos + 1, lengthSize);
    if (!(length > 0)) throw runError(ctx, 'a run length is not positive', pos + 1, 'a length > 0', length);
    let runLcn = LCN_HOLE;
    if (offsetSize > 0) {
      const delta = readSigned(bytes, pos + 1 + lengthSize, offsetSize);
      lcn += delta;
      if (!Number.isSafeInteger(lcn) || lcn < 0) {
        throw runError(ctx, 'a run starts at a negative LCN (corrupt runlist)', pos + 1 + lengthSize, 'an LCN >= 0', lcn);
      }
      if (lcn + length > ctx.nrClusters) {
        throw new SnapcloneError('NTFS_RUN_OUT_OF_RANGE', `MFT record ${ctx.recordNumber}: a run points outside the volume`, {
          byteOffset: ctx.volumeByteOffset + pos,
          expected: `clusters below ${ctx.nrClusters}`,
          actual: `${length} clusters at LCN ${lcn}`,
          hint: 'the MFT record is damaged, or the volume was cut short: run chkdsk /f on Windows',
        });
      }
      runLcn = lcn;
    }
    onRun(vcn, runLcn, length);
    vcn += length;
    if (!Number.isSafeInteger(vcn)) throw runError(ctx, 'the runlist covers too many clusters', pos, 'a VCN below 2^53', vcn);
    pos += 1 + lengthSize + offsetSize;
  }
  if (highestVcn !== 0 && vcn - 1 !== highestVcn) {
    throw runError(ctx, 'the mapping pairs do not end at highest_vcn', start, `last VCN ${highestVcn}`, vcn - 1);
  }
}

/** Index of the run containing `vcn`, or of the first run after it (binary search: a fragmented
 * `$MFT` has thousands of runs and the walk asks for every record). */
export function findRunIndex(runs: readonly Run[], vcn: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = runs[mid] as Run;
    if (r.vcn + r.length <= vcn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
