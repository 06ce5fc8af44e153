// The imaging part of a backup: from a disk (a snapshot, a file, a device) to the files of a set: the
// saved layout, then each partition as an ntfsclone image (byte for byte what `ntfsclone --save-image`
// writes) or raw bytes, compressed with bzip2 on every core, hashed and fsynced as they are written.
// Every stage runs in one pipeline, so any stage's failure (a read error, a full disk, the snapshot
// watcher) fails the backup. Spec: issue 5 "The set"; ntfsclone-format.md §3-4.

import { Readable } from 'node:stream';
import { SnapcloneError } from '../core/errors.js';
import { prefixedProgress, silentProgress, type Progress } from '../core/progress.js';
import { SliceReadAt, type ReadAt } from '../core/read-at.js';
import { formatBytes } from '../core/units.js';
import { createCompressStream } from '../bzip2/compress-stream.js';
import { encodeSavedLayout } from '../partition/index.js';
import type { ManifestPartition } from './manifest.js';
import { prepareSaveFrom } from './save-image.js';
import type { SetWriter } from './set-writer.js';
import { LAYOUT_FILE, type DiskPlan, type ImageJob } from './disk-plan.js';

/** Raw partitions are read in slices of this size (fresh buffers: the compressor may keep them). */
const RAW_READ_BYTES = 1024 * 1024;

export interface ImageDiskOptions {
  /** bzip2 block size, 1..9. */
  level: number;
  threads?: number;
  /** Save NTFS volumes flagged dirty (ntfsclone --force). */
  force?: boolean;
  /** Aborts the imaging (the snapshot watcher's signal). */
  signal?: AbortSignal;
  progress?: Progress;
  /** Written into the layout file. */
  createdBy: string;
  sourceLabel: string;
}

export interface ImagedDisk {
  partitions: ManifestPartition[];
  layoutFile?: string;
  imagingSeconds: number;
}

/** Writes the layout and every image of `plan` from `disk` into `writer`. */
export async function imageDisk(disk: ReadAt, plan: DiskPlan, writer: SetWriter, options: ImageDiskOptions): Promise<ImagedDisk> {
  const progress = options.progress ?? silentProgress;
  const started = performance.now();
  let layoutFile: string | undefined;
  if (plan.layout) {
    await writer.writeBytes(LAYOUT_FILE, encodeSavedLayout(plan.layout, { createdBy: options.createdBy, source: options.sourceLabel }));
    layoutFile = LAYOUT_FILE;
  }
  const partitions: ManifestPartition[] = [];
  for (const job of plan.jobs) {
    options.signal?.throwIfAborted();
    partitions.push(job.filesystem === 'ntfs' ? await saveNtfs(disk, job, writer, options, progress) : await saveRaw(disk, job, writer, options, progress));
  }
  return { partitions, layoutFile, imagingSeconds: (performance.now() - started) / 1000 };
}

function jobName(job: ImageJob): string {
  return job.number === 0 ? 'disk' : `partition ${job.number}`;
}

async function saveNtfs(disk: ReadAt, job: ImageJob, writer: SetWriter, options: ImageDiskOptions, progress: Progress): Promise<ManifestPartition> {
  const label = jobName(job);
  const view = prefixedProgress(progress, `${label} (NTFS)`);
  const prepared = await prepareSaveFrom(new SliceReadAt(disk, job.startByte, job.sizeBytes), label, {
    force: options.force,
    checkConsistency: true,
    // The set is a temporary directory until complete: the MFT walk may overlap the save.
    overlapCheck: true,
    progress: view,
  });
  try {
    const { boot, volumeInfo, saveSet } = prepared;
    progress.note(
      `${label}: NTFS ${volumeInfo.majorVersion}.${volumeInfo.minorVersion}, ${formatBytes(boot.nrClusters * boot.clusterSize)}, ` +
        `${formatBytes(saveSet.inuse * boot.clusterSize)} in use -> ${job.fileName}`,
    );
    if (volumeInfo.dirty) progress.note(`warning: ${label} is flagged dirty; saved anyway (--force)`);
    if (saveSet.badClusters > 0) progress.note(`warning: ${label} lists ${saveSet.badClusters} bad cluster(s); they are saved as gaps`);
    let imageBytes = 0;
    const counted = async function* (chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const c of chunks) {
        imageBytes += c.byteLength;
        yield c;
      }
    };
    await writer.writeStream(job.fileName, Readable.from(counted(prepared.chunks(view)), { objectMode: true, highWaterMark: 2 }), {
      transforms: [createCompressStream({ level: options.level, threads: options.threads, inputBytes: prepared.imageBytes })],
      signal: options.signal,
    });
    if (imageBytes !== prepared.imageBytes) {
      throw new SnapcloneError('SET_IMAGE_SIZE', `the image of ${label} came out at another size than planned`, {
        kind: 'internal',
        expected: prepared.imageBytes,
        actual: imageBytes,
      });
    }
    if (saveSet.unreadableRecords.length > 0) {
      progress.note(`warning: ${label}: ${saveSet.unreadableRecords.length} in-use MFT record(s) failed their checksums and were skipped, as ntfsclone does; run chkdsk /f`);
    }
    return {
      number: job.number,
      startByte: job.startByte,
      sizeBytes: job.sizeBytes,
      type: job.type,
      filesystem: 'ntfs',
      image: job.fileName,
      imageFormat: 'ntfsclone+bzip2',
      imageBytes,
      ntfs: {
        clusterSize: boot.clusterSize,
        nrClusters: boot.nrClusters,
        inuse: saveSet.inuse,
        deviceSize: prepared.deviceBytes,
        serial: `0x${boot.serialNumber.toString(16).padStart(16, '0')}`,
        version: `${volumeInfo.majorVersion}.${volumeInfo.minorVersion}`,
        ...(volumeInfo.dirty ? { dirty: true } : {}),
      },
    };
  } finally {
    await prepared.close();
  }
}

async function saveRaw(disk: ReadAt, job: ImageJob, writer: SetWriter, options: ImageDiskOptions, progress: Progress): Promise<ManifestPartition> {
  const label = jobName(job);
  progress.note(`${label}: ${formatBytes(job.sizeBytes)}, ${job.forcedRaw ? 'saved raw (--raw)' : 'no NTFS: saved raw'} -> ${job.fileName}`);
  const view = prefixedProgress(progress, label);
  await writer.writeStream(job.fileName, Readable.from(rawChunks(new SliceReadAt(disk, job.startByte, job.sizeBytes), view), { objectMode: true, highWaterMark: 2 }), {
    transforms: [createCompressStream({ level: options.level, threads: options.threads, inputBytes: job.sizeBytes })],
    signal: options.signal,
  });
  return {
    number: job.number,
    startByte: job.startByte,
    sizeBytes: job.sizeBytes,
    type: job.type,
    filesystem: 'raw',
    image: job.fileName,
    imageFormat: 'raw+bzip2',
    imageBytes: job.sizeBytes,
  };
}

/** Every byte of `source`, in fresh 1 MiB chunks; a short read is an error (the device shrank). */
export async function* rawChunks(source: ReadAt, progress: Progress = silentProgress): AsyncGenerator<Uint8Array> {
  progress.begin('Saving raw', source.sizeBytes);
  for (let at = 0; at < source.sizeBytes; ) {
    const length = Math.min(RAW_READ_BYTES, source.sizeBytes - at);
    const chunk = new Uint8Array(length);
    const n = await source.readAt(chunk, at);
    if (n !== length) {
      throw new SnapcloneError('SET_SOURCE_TRUNCATED', 'the source ended before the partition did (did it shrink?)', {
        kind: 'io',
        byteOffset: at + n,
        expected: `${length} bytes`,
        actual: `${n} bytes`,
      });
    }
    at += length;
    progress.update(at);
    yield chunk;
  }
  progress.end();
}
