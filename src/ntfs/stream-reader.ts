// Reading the bytes of a non-resident stream through its runlist: contiguous spans become single
// large reads, sparse runs and bytes past initialized_size read as zeros.
// Spec: docs/spec/ntfsclone-format.md §3 ($Bitmap is read "through the attribute API":
// zeros beyond initialized_size).

import { SnapcloneError } from '../core/errors.js';
import type { ReadAt } from '../core/read-at.js';
import { findRunIndex, LCN_HOLE, type Run } from './runlist.js';

export interface NonResidentStream {
  runs: Run[];
  dataSize: number;
  initializedSize: number;
  /** What the stream is, for messages ("$MFT", "$Bitmap"). */
  what: string;
}

/**
 * Fills `target` with stream bytes starting at `streamOffset`. Reading past data_size is a
 * caller bug; bytes past initialized_size are zeros; a VCN no run maps is NTFS_STREAM_NOT_MAPPED.
 */
export async function readStream(
  source: ReadAt,
  clusterSize: number,
  stream: NonResidentStream,
  streamOffset: number,
  target: Uint8Array,
): Promise<void> {
  const end = streamOffset + target.byteLength;
  const initEnd = Math.min(end, stream.initializedSize);
  let pos = streamOffset;
  let runIndex = findRunIndex(stream.runs, Math.floor(pos / clusterSize));
  while (pos < initEnd) {
    const vcn = Math.floor(pos / clusterSize);
    while (runIndex < stream.runs.length && vcn >= (stream.runs[runIndex] as Run).vcn + (stream.runs[runIndex] as Run).length) runIndex++;
    const run = stream.runs[runIndex];
    if (run === undefined || vcn < run.vcn) {
      throw new SnapcloneError('NTFS_STREAM_NOT_MAPPED', `${stream.what}: no run maps VCN ${vcn}`, {
        expected: `a run covering byte ${pos} of the stream`,
        actual: 'none',
        hint: 'the runlist is shorter than the stream: the MFT is damaged',
      });
    }
    const runEndByte = (run.vcn + run.length) * clusterSize;
    const spanEnd = Math.min(initEnd, runEndByte);
    const piece = target.subarray(pos - streamOffset, spanEnd - streamOffset);
    if (run.lcn === LCN_HOLE) {
      piece.fill(0);
    } else {
      const diskOffset = run.lcn * clusterSize + (pos - run.vcn * clusterSize);
      const n = await source.readAt(piece, diskOffset);
      if (n !== piece.byteLength) {
        throw new SnapcloneError('NTFS_TRUNCATED', `${stream.what}: the volume ends inside the stream`, {
          byteOffset: diskOffset + n,
          expected: `${piece.byteLength} bytes`,
          actual: `${n} bytes`,
        });
      }
    }
    pos = spanEnd;
  }
  if (initEnd < end) target.subarray(Math.max(0, initEnd - streamOffset)).fill(0);
}
