// The ntfsclone image header (a packed 50-byte C struct `image_hdr`, padded to 56 by the writer).
// Version 10.1 is written; 10.0 and any 10.x are read. Spec: docs/spec/ntfsclone-format.md §1.

import { viewOf, writeI64, writeU64 } from '../core/bytes.js';
import { SnapcloneError } from '../core/errors.js';

// image_hdr field offsets (packed, unaligned, little-endian).
const OFF_MAGIC = 0; //                 char[16]
const OFF_MAJOR_VER = 16; //            u8
const OFF_MINOR_VER = 17; //            u8
const OFF_CLUSTER_SIZE = 18; //         le32
const OFF_DEVICE_SIZE = 22; //          le64
const OFF_NR_CLUSTERS = 30; //          sle64
const OFF_INUSE = 38; //                le64
const OFF_OFFSET_TO_IMAGE_DATA = 46; // le32 (IMAGE_OFFSET_OFFSET, the same in every version)

/** sizeof(struct image_hdr): what a reader consumes before skipping to offset_to_image_data. */
export const IMAGE_HDR_BYTES = 50;
/** The writer pads the header to a multiple of 8: the body starts here in every image it writes. */
export const IMAGE_DATA_OFFSET = 56;
export const IMAGE_MAGIC = new Uint8Array([0x00, ...new TextEncoder().encode('ntfsclone-image')]);
export const NTFSCLONE_IMG_VER_MAJOR = 10;
export const NTFSCLONE_IMG_VER_MINOR = 1;
/** Clusters larger than this do not exist on NTFS; a bigger value is a damaged header. */
const MAX_CLUSTER_SIZE = 2 * 1024 * 1024;

export interface ImageHeader {
  major_ver: number;
  minor_ver: number;
  /** Bytes per cluster. */
  cluster_size: number;
  /** Bytes of the device the image was saved from. */
  device_size: number;
  nr_clusters: number;
  /** Clusters saved, not counting the backup boot sector chunk. */
  inuse: number;
  /** Byte offset of the first command, from the start of the image. */
  offset_to_image_data: number;
}

/** The 56 bytes ntfsclone writes: header 10.1, body at 56, zero padding. */
export function encodeImageHeader(h: Omit<ImageHeader, 'major_ver' | 'minor_ver' | 'offset_to_image_data'>): Uint8Array {
  const out = new Uint8Array(IMAGE_DATA_OFFSET);
  const view = viewOf(out);
  out.set(IMAGE_MAGIC, OFF_MAGIC);
  view.setUint8(OFF_MAJOR_VER, NTFSCLONE_IMG_VER_MAJOR);
  view.setUint8(OFF_MINOR_VER, NTFSCLONE_IMG_VER_MINOR);
  view.setUint32(OFF_CLUSTER_SIZE, h.cluster_size, true);
  writeU64(view, OFF_DEVICE_SIZE, h.device_size);
  writeI64(view, OFF_NR_CLUSTERS, h.nr_clusters);
  writeU64(view, OFF_INUSE, h.inuse);
  view.setUint32(OFF_OFFSET_TO_IMAGE_DATA, IMAGE_DATA_OFFSET, true);
  return out;
}

/** True when `bytes` start like an ntfsclone image (for "what is this file?" decisions). */
export function looksLikeImage(bytes: Uint8Array): boolean {
  if (bytes.byteLength < IMAGE_MAGIC.byteLength) return false;
  for (let i = 0; i < IMAGE_MAGIC.byteLength; i++) if (bytes[i] !== IMAGE_MAGIC[i]) return false;
  return true;
}

function badMagic(bytes: Uint8Array): SnapcloneError {
  const bz = bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68;
  return new SnapcloneError('IMG_BAD_MAGIC', 'not an ntfsclone image (invalid magic)', {
    byteOffset: OFF_MAGIC,
    expected: 'NUL "ntfsclone-image"',
    actual: bz ? 'bzip2 data ("BZh")' : JSON.stringify(String.fromCharCode(...bytes.subarray(0, 16)).replace(/[^\x20-\x7e]/g, '.')),
    hint: bz ? 'the image is bzip2-compressed: decompress it first (bunzip2 -c IMAGE | snapclone restore-image - TARGET)' : undefined,
  });
}

/**
 * Decodes the first IMAGE_HDR_BYTES bytes of an image. Checks what ntfsclone checks (magic, major
 * version 10) and what it should: a cluster size that is a power of two up to 2 MiB, a cluster
 * count that keeps byte offsets exact, a device that holds the volume's clusters.
 */
export function decodeImageHeader(bytes: Uint8Array): ImageHeader {
  if (!looksLikeImage(bytes) && bytes.byteLength >= IMAGE_MAGIC.byteLength) throw badMagic(bytes);
  if (bytes.byteLength < IMAGE_HDR_BYTES) {
    throw new SnapcloneError('IMG_TRUNCATED', 'the image ends inside its header', {
      byteOffset: bytes.byteLength,
      expected: `${IMAGE_HDR_BYTES} header bytes`,
      actual: `${bytes.byteLength} bytes`,
    });
  }
  const view = viewOf(bytes);
  const major = view.getUint8(OFF_MAJOR_VER);
  const minor = view.getUint8(OFF_MINOR_VER);
  if (major !== NTFSCLONE_IMG_VER_MAJOR) {
    throw new SnapcloneError('IMG_UNSUPPORTED_VERSION', `image format version ${major}.${minor} is not supported`, {
      byteOffset: OFF_MAJOR_VER,
      expected: `major version ${NTFSCLONE_IMG_VER_MAJOR}`,
      actual: `${major}.${minor}`,
      hint: major > NTFSCLONE_IMG_VER_MAJOR ? 'the image was written by a newer ntfsclone' : 'pre-2007 host-endian images are not supported',
    });
  }
  const clusterSize = view.getUint32(OFF_CLUSTER_SIZE, true);
  if (clusterSize < 256 || clusterSize > MAX_CLUSTER_SIZE || (clusterSize & (clusterSize - 1)) !== 0) {
    throw new SnapcloneError('IMG_BAD_HEADER', 'the image header has an invalid cluster size', {
      byteOffset: OFF_CLUSTER_SIZE,
      expected: `a power of two from 256 to ${MAX_CLUSTER_SIZE}`,
      actual: clusterSize,
    });
  }
  const deviceSize = view.getBigUint64(OFF_DEVICE_SIZE, true);
  const nrClusters = view.getBigInt64(OFF_NR_CLUSTERS, true);
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  if (nrClusters < 0n || (nrClusters + 1n) * BigInt(clusterSize) > limit) {
    throw new SnapcloneError('IMG_BAD_HEADER', 'the image header has an invalid cluster count', {
      byteOffset: OFF_NR_CLUSTERS,
      expected: `0 .. ${Math.floor(Number.MAX_SAFE_INTEGER / clusterSize) - 1}`,
      actual: nrClusters,
    });
  }
  if (deviceSize > limit || deviceSize < nrClusters * BigInt(clusterSize)) {
    throw new SnapcloneError('IMG_BAD_HEADER', 'the image header has a device size smaller than its volume', {
      byteOffset: OFF_DEVICE_SIZE,
      expected: `at least ${nrClusters * BigInt(clusterSize)} bytes (nr_clusters x cluster_size)`,
      actual: deviceSize,
    });
  }
  const inuse = view.getBigUint64(OFF_INUSE, true);
  return {
    major_ver: major,
    minor_ver: minor,
    cluster_size: clusterSize,
    device_size: Number(deviceSize),
    nr_clusters: Number(nrClusters),
    // inuse only drives progress (ntfsclone does not check it): clamp rather than refuse.
    inuse: inuse > nrClusters + 1n ? Number(nrClusters) + 1 : Number(inuse),
    offset_to_image_data: view.getUint32(OFF_OFFSET_TO_IMAGE_DATA, true),
  };
}

/** Bytes of data after a NEXT for cluster `lcn`: a full cluster, or the device's tail (§2). */
export function clusterDataLength(h: Pick<ImageHeader, 'cluster_size' | 'device_size'>, lcn: number): number {
  const start = lcn * h.cluster_size;
  return start + h.cluster_size >= h.device_size ? h.device_size - start : h.cluster_size;
}
