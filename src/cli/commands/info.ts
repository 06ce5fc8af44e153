// `snapclone info SOURCE|IMAGE`: an NTFS volume's geometry, version, flags and used clusters, or an
// ntfsclone image's header (and with --verify, a full decode of its body, writing nothing).
// Spec: docs/spec/ntfsclone-format.md §1 (header fields), §3 (used clusters), §5 (-n).

import { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { SnapcloneError } from '../../core/errors.js';
import { formatBytes } from '../../core/units.js';
import { ImageDecoder, type DecodeSummary } from '../../image/image-decoder.js';
import { looksLikeImage, type ImageHeader } from '../../image/image-header.js';
import { looksLikeBzip2 } from '../../bzip2/index.js';
import { openImageInput } from '../../backup/image-input.js';
import { imageSizeBytes } from '../../image/image-encoder.js';
import { computeSaveSet } from '../../ntfs/cluster-accounting.js';
import { NtfsVolume } from '../../ntfs/volume.js';
import { SourceFile } from '../../io/source-file.js';
import { progressFromOptions } from '../progress.js';

interface InfoOptions {
  json?: boolean;
  verify?: boolean;
  quiet?: boolean;
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('describe an NTFS volume (geometry, version, flags, space in use) or an ntfsclone image (header)')
    .argument('<path>', "an NTFS partition or volume file, an ntfsclone image, or '-' for an image on standard input")
    .option('--json', 'print one JSON object instead of text')
    .option('--verify', "volume: also run ntfsclone's MFT walk; image: decode the whole body and count its clusters")
    .option('-q, --quiet', 'no progress display')
    .addHelpText('after', '\nExamples:\n  snapclone info /dev/sdb1\n  snapclone info --verify win7.img')
    .action(async (path: string, opts: InfoOptions) => {
      await runInfo(path, opts);
    });
}

async function runInfo(path: string, opts: InfoOptions): Promise<void> {
  if (path === '-') return imageInfo(path, opts);
  const file = await SourceFile.open(path);
  let isImage: boolean;
  try {
    const head = new Uint8Array(16);
    await file.readAt(head, 0);
    isImage = looksLikeImage(head) || looksLikeBzip2(head);
    if (!isImage) return await volumeInfo(path, file, opts);
  } finally {
    await file.close();
  }
  return imageInfo(path, opts);
}

function print(opts: InfoOptions, obj: Record<string, unknown>, lines: [string, unknown][]): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(obj, null, 2)}\n`);
    return;
  }
  const w = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) process.stdout.write(`${k.padEnd(w)} : ${String(v)}\n`);
}

async function volumeInfo(path: string, file: SourceFile, opts: InfoOptions): Promise<void> {
  const volume = await NtfsVolume.open(file, file.sizeBytes).catch((e: unknown) => {
    throw e instanceof SnapcloneError ? e.withPath(path) : e;
  });
  const vi = await volume.volumeInformation();
  const progress = progressFromOptions({ quiet: opts.quiet || !opts.verify });
  const set = await computeSaveSet(volume, { checkConsistency: !!opts.verify, progress });
  const b = volume.boot;
  const imageBytes = imageSizeBytes({ clusterSize: b.clusterSize, nrClusters: b.nrClusters, deviceSize: file.sizeBytes }, set.bitmap);
  const obj = {
    kind: 'ntfs-volume',
    path,
    deviceBytes: file.sizeBytes,
    volumeBytes: b.nrClusters * b.clusterSize,
    bytesPerSector: b.bytesPerSector,
    clusterSize: b.clusterSize,
    nrClusters: b.nrClusters,
    totalSectors: b.totalSectors,
    mftLcn: b.mftLcn,
    mftMirrLcn: b.mftMirrLcn,
    mftRecordSize: b.mftRecordSize,
    indexRecordSize: b.indexRecordSize,
    mftRecords: volume.recordCount,
    serialNumber: `0x${b.serialNumber.toString(16).padStart(16, '0')}`,
    ntfsVersion: `${vi.majorVersion}.${vi.minorVersion}`,
    volumeFlags: `0x${vi.flags.toString(16).padStart(4, '0')}`,
    dirty: vi.dirty,
    usedClusters: set.inuse,
    usedBytes: set.inuse * b.clusterSize,
    badClusters: set.badClusters,
    fsCheck: set.checked ? 'passed' : 'not run (use --verify)',
    imageBytes,
  };
  print(opts, obj, [
    ['NTFS volume', path],
    ['NTFS version', obj.ntfsVersion],
    ['Volume flags', `${obj.volumeFlags}${vi.dirty ? ' (dirty: scheduled for chkdsk or not shut down cleanly)' : ''}`],
    ['Serial number', obj.serialNumber],
    ['Device size', `${obj.deviceBytes} bytes (${formatBytes(obj.deviceBytes)})`],
    ['Volume size', `${obj.volumeBytes} bytes (${formatBytes(obj.volumeBytes)})`],
    ['Sector size', `${b.bytesPerSector} bytes`],
    ['Cluster size', `${b.clusterSize} bytes`],
    ['Clusters', b.nrClusters],
    ['Clusters in use', `${set.inuse} (${formatBytes(obj.usedBytes)}, ${((100 * set.inuse) / b.nrClusters).toFixed(1)}%)`],
    ['Bad clusters', set.badClusters],
    ['$MFT LCN', b.mftLcn],
    ['$MFTMirr LCN', b.mftMirrLcn],
    ['MFT record size', `${b.mftRecordSize} bytes (${volume.recordCount} records)`],
    ['Index record size', `${b.indexRecordSize} bytes`],
    ['File system check', obj.fsCheck],
    ['Image size', `${imageBytes} bytes (${formatBytes(imageBytes)}) uncompressed`],
  ]);
}

async function imageInfo(path: string, opts: InfoOptions): Promise<void> {
  let header: ImageHeader | undefined;
  let summary: DecodeSummary | undefined;
  const progress = progressFromOptions({ quiet: opts.quiet || !opts.verify });
  const warnings: string[] = [];
  const raw = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1024 * 1024 });
  const input = await openImageInput(raw, { onWarning: (w) => warnings.push(w.message) });
  const decoder = new ImageDecoder(
    {
      header(h) {
        header = h;
      },
      data() {},
    },
    (w) => warnings.push(w.message),
  );
  try {
    let total = 0;
    let begun = false;
    for await (const chunk of input.chunks) {
      decoder.push(chunk as Uint8Array);
      total += (chunk as Uint8Array).byteLength;
      if (header && !opts.verify) break;
      if (header && !begun) {
        begun = true;
        const h = header as ImageHeader;
        progress.begin('Verifying the image', 56 + (h.inuse + 1) * (h.cluster_size + 1));
      }
      progress.update(total);
      if (decoder.done) break;
    }
    if (opts.verify || !header) {
      summary = decoder.end();
      // A compressed image is read to its end, so its last block and stream CRCs are checked too.
      if (opts.verify) summary.trailingBytes += await input.finish();
      if (begun) progress.end();
    }
  } catch (e) {
    throw e instanceof SnapcloneError && path !== '-' ? e.withPath(path) : e;
  } finally {
    input.destroy();
  }
  const h = header as ImageHeader;
  const obj: Record<string, unknown> = {
    kind: 'ntfsclone-image',
    path,
    compressed: input.compressed ? 'bzip2' : undefined,
    version: `${h.major_ver}.${h.minor_ver}`,
    clusterSize: h.cluster_size,
    deviceBytes: h.device_size,
    nrClusters: h.nr_clusters,
    volumeBytes: h.nr_clusters * h.cluster_size,
    inuse: h.inuse,
    offsetToImageData: h.offset_to_image_data,
  };
  const lines: [string, unknown][] = [
    ['ntfsclone image', input.compressed ? `${path} (bzip2-compressed)` : path],
    ['Image version', obj.version],
    ['Cluster size', `${h.cluster_size} bytes`],
    ['Image volume size', `${h.nr_clusters * h.cluster_size} bytes (${formatBytes(h.nr_clusters * h.cluster_size)})`],
    ['Image device size', `${h.device_size} bytes`],
    ['Space in use', `${h.inuse} clusters (${formatBytes(h.inuse * h.cluster_size)}, ${h.nr_clusters ? ((100 * h.inuse) / h.nr_clusters).toFixed(1) : '0'}%)`],
    ['Offset to image data', `${h.offset_to_image_data} (0x${h.offset_to_image_data.toString(16)}) bytes`],
  ];
  if (summary) {
    Object.assign(obj, {
      verified: true,
      clustersInImage: summary.clusters,
      gaps: summary.gaps,
      imageBytes: summary.imageBytes,
      trailingBytes: summary.trailingBytes,
      backupBootSector: !summary.noBackupBootSector,
    });
    lines.push(
      ['Clusters in image', `${summary.clusters} (${summary.gaps} gaps)`],
      ['Backup boot sector', summary.noBackupBootSector ? 'absent (version 10.0 image)' : 'present'],
      ['Image bytes', `${summary.imageBytes}${summary.trailingBytes ? ` (+${summary.trailingBytes} ignored trailing bytes)` : ''}`],
      ['Verification', 'the whole body decodes'],
    );
  }
  print(opts, obj, lines);
}
