// The save side: produces an ntfsclone 10.1 image as a stream of large byte chunks from a ReadAt
// and a bitmap of the clusters to save. Knows nothing of NTFS (the caller chose the clusters) nor
// of compression (a consumer may pipe the chunks through bzip2).
// Spec: docs/spec/ntfsclone-format.md §1-2 (header, GAP/NEXT body, final partial chunk).

import { SnapcloneError } from '../core/errors.js';
import { silentProgress, type Progress } from '../core/progress.js';
import type { ReadAt } from '../core/read-at.js';
import { clusterDataLength, encodeImageHeader } from './image-header.js';

export const CMD_GAP = 0x00;
export const CMD_NEXT = 0x01;
const GAP_BYTES = 9;
/** Default size of the chunks produced (and of the reads that fill them). */
export const DEFAULT_IMAGE_CHUNK_BYTES = 1024 * 1024;

export interface ImageGeometry {
  clusterSize: number;
  /** nr_clusters: clusters 0..nrClusters are visited, nrClusters included (10.1). */
  nrClusters: number;
  /** device_size: bounds the length of the last cluster's data. */
  deviceSize: number;
}

export interface EncodeOptions {
  chunkBytes?: number;
  progress?: Progress;
}

/** Exact size of the image that encodeImage produces for this bitmap (for progress and checks). */
export function imageSizeBytes(g: ImageGeometry, bitmap: Uint8Array): number {
  const end = g.nrClusters + 1;
  const hdr = { cluster_size: g.clusterSize, device_size: g.deviceSize };
  let size = 56;
  let expected = 0;
  for (let c = nextSet(bitmap, 0, end); c < end; ) {
    const runEnd = nextClear(bitmap, c, end);
    if (c > expected) size += GAP_BYTES;
    size += (runEnd - c) * (1 + g.clusterSize);
    // Only the last cluster (nr_clusters) can be shorter than a cluster.
    if (runEnd === end) size += clusterDataLength(hdr, g.nrClusters) - g.clusterSize;
    expected = runEnd;
    c = nextSet(bitmap, runEnd, end);
  }
  return size;
}

/** Index of the first set bit at or after `from` and below `end`, or `end`. */
function nextSet(bitmap: Uint8Array, from: number, end: number): number {
  let c = from;
  while (c < end && c & 7) {
    if (((bitmap[c >>> 3] as number) >> (c & 7)) & 1) return c;
    c++;
  }
  while (c < end && bitmap[c >>> 3] === 0) c += 8;
  while (c < end) {
    if (((bitmap[c >>> 3] as number) >> (c & 7)) & 1) return c;
    c++;
  }
  return end;
}

/** Index of the first clear bit at or after `from` and below `end`, or `end`. */
function nextClear(bitmap: Uint8Array, from: number, end: number): number {
  let c = from;
  while (c < end && c & 7) {
    if (!(((bitmap[c >>> 3] as number) >> (c & 7)) & 1)) return c;
    c++;
  }
  while (c < end && bitmap[c >>> 3] === 0xff) c += 8;
  while (c < end) {
    if (!(((bitmap[c >>> 3] as number) >> (c & 7)) & 1)) return c;
    c++;
  }
  return end;
}

/**
 * Yields the image: the 56-byte header, then for each run of saved clusters a GAP over the
 * clusters skipped since the previous one and a NEXT + data per cluster. `inuse` goes into the
 * header as given. Chunks are freshly allocated: the consumer may keep them.
 */
export async function* encodeImage(
  source: ReadAt,
  g: ImageGeometry,
  bitmap: Uint8Array,
  inuse: number,
  options: EncodeOptions = {},
): AsyncGenerator<Uint8Array> {
  const cs = g.clusterSize;
  const progress = options.progress ?? silentProgress;
  const chunkBytes = Math.max(options.chunkBytes ?? DEFAULT_IMAGE_CHUNK_BYTES, 2 * (cs + 1) + GAP_BYTES);
  const end = g.nrClusters + 1;
  if (bitmap.byteLength * 8 < end) {
    throw new SnapcloneError('IMG_BAD_BITMAP', 'the cluster bitmap is shorter than the volume', {
      kind: 'internal',
      expected: `${Math.ceil(end / 8)} bytes`,
      actual: `${bitmap.byteLength} bytes`,
    });
  }
  const hdr = { cluster_size: cs, device_size: g.deviceSize };
  if (clusterDataLength(hdr, g.nrClusters) < 0) {
    throw new SnapcloneError('IMG_DEVICE_TOO_SMALL', 'the device is smaller than the volume', {
      expected: `at least ${g.nrClusters * cs} bytes`,
      actual: `${g.deviceSize} bytes`,
    });
  }
  progress.begin('Saving the image', inuse * cs);
  let out = new Uint8Array(chunkBytes);
  out.set(encodeImageHeader({ cluster_size: cs, device_size: g.deviceSize, nr_clusters: g.nrClusters, inuse }), 0);
  let pos = 56;
  let expected = 0; // the cluster the restorer's position points at
  let savedBytes = 0;

  for (let c = nextSet(bitmap, 0, end); c < end; ) {
    const runEnd = nextClear(bitmap, c, end);
    if (c > expected) {
      if (pos + GAP_BYTES > chunkBytes) {
        yield out.subarray(0, pos);
        out = new Uint8Array(chunkBytes);
        pos = 0;
      }
      out[pos] = CMD_GAP;
      new DataView(out.buffer, out.byteOffset + pos + 1, 8).setBigInt64(0, BigInt(c - expected), true);
      pos += GAP_BYTES;
    }
    while (c < runEnd) {
      // As many whole clusters as fit in the chunk, read with one call straight into the chunk
      // behind their command bytes, then spread out so each follows its NEXT byte.
      let k = Math.min(runEnd - c, Math.floor((chunkBytes - pos) / (cs + 1)));
      if (k === 0) {
        yield out.subarray(0, pos);
        out = new Uint8Array(chunkBytes);
        pos = 0;
        continue;
      }
      const spanBytes = Math.min((c + k) * cs, g.deviceSize) - c * cs;
      const readTarget = out.subarray(pos + k, pos + k + spanBytes);
      const n = await source.readAt(readTarget, c * cs);
      if (n !== spanBytes) {
        throw new SnapcloneError('IMG_SOURCE_TRUNCATED', 'the source ended before the clusters to save (did it shrink?)', {
          kind: 'io',
          byteOffset: c * cs + n,
          expected: `${spanBytes} bytes`,
          actual: `${n} bytes`,
        });
      }
      for (let i = 0; i < k; i++) {
        const dataLength = Math.min(cs, spanBytes - i * cs);
        const dst = pos + i * (cs + 1);
        out.copyWithin(dst + 1, pos + k + i * cs, pos + k + i * cs + dataLength);
        out[dst] = CMD_NEXT;
        if (dataLength < cs) {
          // Only the last cluster (nr_clusters, the device's tail) can be short; it ends the image.
          pos = dst + 1 + dataLength;
          k = i + 1;
          break;
        }
        if (i === k - 1) pos = dst + 1 + cs;
      }
      c += k;
      savedBytes += spanBytes;
      progress.update(Math.min(savedBytes, inuse * cs));
    }
    expected = runEnd;
    c = nextSet(bitmap, runEnd, end);
  }
  if (pos > 0) yield out.subarray(0, pos);
  progress.end();
}
