// Checking a restore without ntfs-3g: every cluster the image saved must be equal on the original
// and the restored volume (free clusters may differ: the original keeps deleted data), and the
// image re-saved from the restored volume must be identical to the first one.
// Spec: docs/spec/ntfsclone-format.md §7 ("cmp-used", and re-save comparisons).

import { createHash } from 'node:crypto';
import { equalBytes } from '../core/bytes.js';
import type { ReadAt } from '../core/read-at.js';
import type { ImageGeometry } from '../image/image-encoder.js';

const SPAN_CLUSTERS_BYTES = 4 * 1024 * 1024;

export interface UsedClusterComparison {
  comparedClusters: number;
  /** The first clusters that differ (at most 10), and how many differ in all. */
  differing: number[];
  differingCount: number;
}

/** Compares the clusters set in `bitmap` (0..nrClusters, the last one partial) of `a` and `b`. */
export async function compareUsedClusters(
  a: ReadAt,
  b: ReadAt,
  g: ImageGeometry,
  bitmap: Uint8Array,
  onProgress?: (comparedBytes: number) => void,
): Promise<UsedClusterComparison> {
  const cs = g.clusterSize;
  const perSpan = Math.max(1, Math.floor(SPAN_CLUSTERS_BYTES / cs));
  const bufA = new Uint8Array(perSpan * cs);
  const bufB = new Uint8Array(perSpan * cs);
  const result: UsedClusterComparison = { comparedClusters: 0, differing: [], differingCount: 0 };
  let comparedBytes = 0;
  for (let c = 0; c <= g.nrClusters; ) {
    if (!(((bitmap[c >>> 3] as number) >> (c & 7)) & 1)) {
      c++;
      continue;
    }
    let end = c;
    while (end <= g.nrClusters && end - c < perSpan && ((bitmap[end >>> 3] as number) >> (end & 7)) & 1) end++;
    const bytes = Math.min(end * cs, g.deviceSize) - c * cs;
    const [na, nb] = await Promise.all([a.readAt(bufA.subarray(0, bytes), c * cs), b.readAt(bufB.subarray(0, bytes), c * cs)]);
    for (let k = c; k < end; k++) {
      const from = (k - c) * cs;
      const to = Math.min(from + cs, bytes);
      const same = na >= to && nb >= to && equalBytes(bufA.subarray(from, to), bufB.subarray(from, to));
      result.comparedClusters++;
      if (!same) {
        result.differingCount++;
        if (result.differing.length < 10) result.differing.push(k);
      }
    }
    comparedBytes += bytes;
    onProgress?.(comparedBytes);
    c = end;
  }
  return result;
}

/** SHA-256 (hex) of a stream of chunks, such as an image being produced. */
export async function sha256OfChunks(chunks: AsyncIterable<Uint8Array>): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of chunks) {
    h.update(c);
    bytes += c.byteLength;
  }
  return { sha256: h.digest('hex'), bytes };
}
