// save-image orchestration: open an NTFS source (file or block device), run ntfsclone's checks
// (mounted read-write, dirty flag, NTFS version, device size, MFT walk against $Bitmap), then
// produce the image as a stream of chunks that a caller writes to a file, stdout or a compressor.
// Spec: docs/spec/ntfsclone-format.md §3 (save set) and §4 (checks, in ntfsclone's order).

import { Readable } from 'node:stream';
import { SnapcloneError } from '../core/errors.js';
import { silentProgress, type Progress } from '../core/progress.js';
import { encodeImage, imageSizeBytes, type ImageGeometry } from '../image/image-encoder.js';
import { computeSaveSet, type SaveSet } from '../ntfs/cluster-accounting.js';
import type { BootSector } from '../ntfs/boot-sector.js';
import { NtfsVolume, type VolumeInformation } from '../ntfs/volume.js';
import { refuseMountedReadWrite } from '../io/mount-check.js';
import { SourceFile } from '../io/source-file.js';
import type { ReadAt } from '../core/read-at.js';

export interface SaveImageOptions {
  /** Save a volume flagged dirty (ntfsclone's --force). */
  force?: boolean;
  /** Walk the MFT and compare with $Bitmap before saving, as ntfsclone does (default true). */
  checkConsistency?: boolean;
  /**
   * Run that walk while the image is produced instead of before, for outputs that are discarded
   * on failure (a temporary file): the last chunk is held back until the walk agreed, and the
   * stream fails with the walk's error otherwise. Never for stdout, where bytes cannot be taken back.
   */
  overlapCheck?: boolean;
  progress?: Progress;
}

export interface PreparedSave {
  sourcePath: string;
  /** device_size: the exact size of the source file or device. */
  deviceBytes: number;
  boot: BootSector;
  volumeInfo: VolumeInformation;
  saveSet: SaveSet;
  geometry: ImageGeometry;
  /** Exact size of the image that chunks() produces. */
  imageBytes: number;
  /** The image, in large chunks. Call once. */
  chunks(progress?: Progress): AsyncGenerator<Uint8Array>;
  /** The same as a byte stream with a small read-ahead (reads overlap writes). */
  stream(progress?: Progress): Readable;
  close(): Promise<void>;
}

/**
 * Passes `chunks` through but holds the last one back until `check` resolved, and stops with the
 * check's error as soon as it fails: a consumer that publishes only a complete stream (a temporary
 * file renamed at the end) then never publishes an image of a volume the check refuses.
 */
async function* heldUntil(chunks: AsyncGenerator<Uint8Array>, check: Promise<void>, label: string): AsyncGenerator<Uint8Array> {
  let failure: unknown;
  check.catch((e: unknown) => {
    failure = e instanceof SnapcloneError ? e.withPath(label) : e;
  });
  let held: Uint8Array | undefined;
  for await (const chunk of chunks) {
    if (failure) throw failure;
    if (held) yield held;
    held = chunk;
  }
  try {
    await check;
  } catch (e) {
    throw e instanceof SnapcloneError ? e.withPath(label) : e;
  }
  if (held) yield held;
}

/** NTFS versions ntfsclone accepts (anything else: "Unknown NTFS version"). */
export function isSupportedNtfsVersion(major: number, minor: number): boolean {
  return (major === 1 && (minor === 1 || minor === 2)) || major === 2 || (major === 3 && (minor === 0 || minor === 1));
}

/**
 * Opens `sourcePath` and runs every check ntfsclone runs before it writes anything. Nothing is
 * written here; the caller creates the output only after this succeeded.
 */
export async function prepareSave(sourcePath: string, options: SaveImageOptions = {}): Promise<PreparedSave> {
  await refuseMountedReadWrite(sourcePath);
  const source = await SourceFile.open(sourcePath);
  try {
    return await prepareSaveFrom(source, sourcePath, { ...options, close: () => source.close() });
  } catch (e) {
    await source.close();
    throw e;
  }
}

/**
 * The same from any ReadAt, such as a SliceReadAt over a partition of a disk image: its
 * `sizeBytes` is the device_size of the header. `label` names it in messages; `close` (optional)
 * becomes the prepared save's close(). No mount check: the caller knows what it reads.
 */
export async function prepareSaveFrom(
  source: ReadAt,
  label: string,
  options: SaveImageOptions & { close?: () => Promise<void> } = {},
): Promise<PreparedSave> {
  const sourcePath = label;
  const volume = await NtfsVolume.open(source, source.sizeBytes).catch((e: unknown) => {
    throw e instanceof SnapcloneError ? e.withPath(sourcePath) : e;
  });
  const volumeInfo = await volume.volumeInformation();
  if (volumeInfo.dirty && !options.force) {
    throw new SnapcloneError('NTFS_DIRTY', `volume ${sourcePath} is scheduled for a check or was shut down uncleanly`, {
      kind: 'refused',
      path: sourcePath,
      expected: 'volume flag 0x0001 (dirty) clear',
      actual: `flags 0x${volumeInfo.flags.toString(16).padStart(4, '0')}`,
      hint: 'boot Windows (or run chkdsk /f) so it is checked and closed cleanly, or use --force to save it anyway',
    });
  }
  if (!isSupportedNtfsVersion(volumeInfo.majorVersion, volumeInfo.minorVersion)) {
    throw new SnapcloneError('NTFS_UNSUPPORTED_VERSION', `unknown NTFS version ${volumeInfo.majorVersion}.${volumeInfo.minorVersion}`, {
      path: sourcePath,
      expected: '1.1, 1.2, 2.x, 3.0 or 3.1',
      actual: `${volumeInfo.majorVersion}.${volumeInfo.minorVersion}`,
    });
  }
  const saveSet = await computeSaveSet(volume, {
    checkConsistency: options.checkConsistency ?? true,
    deferCheck: options.overlapCheck ?? false,
    progress: options.progress,
  }).catch((e: unknown) => {
    throw e instanceof SnapcloneError ? e.withPath(sourcePath) : e;
  });
  const geometry: ImageGeometry = {
    clusterSize: volume.clusterSize,
    nrClusters: volume.nrClusters,
    deviceSize: source.sizeBytes,
  };
  let used = false;
  const chunks = (progress: Progress = silentProgress): AsyncGenerator<Uint8Array> => {
    if (used) throw new SnapcloneError('IMG_ALREADY_STREAMED', 'the image of a prepared save can be produced once', { kind: 'internal' });
    used = true;
    const image = encodeImage(source, geometry, saveSet.bitmap, saveSet.inuse, { progress });
    return saveSet.pendingCheck ? heldUntil(image, saveSet.pendingCheck, sourcePath) : image;
  };
  return {
    sourcePath,
    deviceBytes: source.sizeBytes,
    boot: volume.boot,
    volumeInfo,
    saveSet,
    geometry,
    imageBytes: imageSizeBytes(geometry, saveSet.bitmap),
    chunks,
    // Object mode: each chunk passes as it is (a byte-mode Readable would concatenate them).
    stream: (progress?: Progress) => Readable.from(chunks(progress), { objectMode: true, highWaterMark: 2 }),
    close: options.close ?? (async () => {}),
  };
}
