// Importing backups made with the seed's recipe (`ntfsclone --save-image -o - PART | bzip2 -2 >
// vm.img.bz2` and `dd if=DISK of=vm.mbr bs=512 count=1`) as a snapclone backup set, so that they can
// be listed, verified and restored like any other: the MBR becomes the saved layout, each image is
// matched to its partition by the device size in its header, copied into the set with its SHA-256,
// and decoded end to end. What the seed never saved (the boot area, logical partitions' EBRs) is said.
// Spec: issue 5 "import of seed backups"; the 2008 tutorial the project grew from, steps V-A-3 and V-A-4 (save with ntfsclone | bzip2, dd the MBR).

import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { SnapcloneError } from '../core/errors.js';
import { silentProgress, type Progress } from '../core/progress.js';
import { createDecompressStream } from '../bzip2/decompress-stream.js';
import { ImageDecoder, type DecodeSummary } from '../image/image-decoder.js';
import { decodeImageHeader, IMAGE_DATA_OFFSET, type ImageHeader } from '../image/image-header.js';
import { ioError } from '../io/source-file.js';
import { dataPartitions, encodeSavedLayout, partitionByteRange, readLayout, type DiskLayout } from '../partition/index.js';
import { decodeMbrSector, hasBootSignature, TYPE_GPT_PROTECTIVE } from '../partition/mbr.js';
import { RegionDisk } from '../partition/region-disk.js';
import { imageFileName, LAYOUT_FILE } from './disk-plan.js';
import { manifestHead, type Manifest, type ManifestPartition } from './manifest.js';
import { readBoundedBytes, readCompressedFile } from './set-files.js';
import { validateLabel } from './set-name.js';
import { SetWriter } from './set-writer.js';

const SECTOR_BYTES = 512;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
const OFF_BOOT_SERIAL = 0x48;

export interface ImportSeedOptions {
  /** The seed's .img.bz2 files (one per partition it saved). */
  images: string[];
  /** The seed's 512-byte MBR copy. */
  mbr: string;
  destDir: string;
  label?: string;
  /** The partition of a single image, when its size matches several. */
  partition?: number;
  threads?: number;
  progress?: Progress;
  tool: { name: string; version: string };
}

export interface ImportReport {
  setPath: string;
  setName: string;
  manifest: Manifest;
}

export async function importSeedBackup(options: ImportSeedOptions): Promise<ImportReport> {
  const progress = options.progress ?? silentProgress;
  const t0 = performance.now();
  const layout = await layoutFromMbr(options.mbr);
  const partitions = dataPartitions(layout).filter((p) => p.sectorCount > 0);

  // Which partition each image is: the device size in its header is its partition's size.
  const headers = await Promise.all(options.images.map(async (image) => ({ image, header: await peekHeader(image), level: await bzip2Level(image) })));
  const assigned = new Map<number, { image: string; header: ImageHeader }>();
  for (const { image, header } of headers) {
    const fits = partitions.filter((p) => partitionByteRange(p).byteLength === header.device_size);
    const chosen = options.partition !== undefined && options.images.length === 1 ? partitions.find((p) => p.number === options.partition) : fits.length === 1 ? fits[0] : undefined;
    if (!chosen) {
      throw new SnapcloneError('SET_IMPORT_NO_PARTITION', `${image} matches ${fits.length === 0 ? 'no' : 'several'} partition(s) of the MBR by size`, {
        kind: 'usage',
        path: image,
        expected: partitions.map((p) => `partition ${p.number}: ${partitionByteRange(p).byteLength} bytes`).join(', '),
        actual: `an image of a ${header.device_size}-byte device`,
        hint: 'name its partition with --partition N (one image at a time)',
      });
    }
    if (partitionByteRange(chosen).byteLength < header.nr_clusters * header.cluster_size + SECTOR_BYTES) {
      throw new SnapcloneError('SET_IMPORT_NO_PARTITION', `partition ${chosen.number} is too small for the volume in ${image}`, {
        kind: 'usage',
        path: image,
        expected: `at least ${header.nr_clusters * header.cluster_size + SECTOR_BYTES} bytes`,
        actual: `${partitionByteRange(chosen).byteLength} bytes`,
      });
    }
    if (assigned.has(chosen.number)) {
      throw new SnapcloneError('SET_IMPORT_NO_PARTITION', `two images for partition ${chosen.number}`, { kind: 'usage', path: image });
    }
    assigned.set(chosen.number, { image, header });
  }
  const missing = partitions.filter((p) => !assigned.has(p.number));
  if (missing.length > 0) {
    throw new SnapcloneError('SET_IMPORT_MISSING_IMAGE', `the MBR lists partition(s) ${missing.map((p) => p.number).join(', ')} with no image`, {
      kind: 'usage',
      hint: 'give each partition\'s .img.bz2 with --image; a set restores every partition of its disk',
    });
  }

  // The set is dated when the seed wrote its image.
  const first = options.images[0]!;
  const startedAt = (await stat(first).catch((e: unknown) => {
    throw ioError(e, first, 'stat');
  })).mtime;
  const label = validateLabel(options.label ?? (basename(first).replace(/\.img\.bz2$|\.bz2$/, '').replace(/[^A-Za-z0-9_.+-]/g, '_') || 'seed'));
  const writer = await SetWriter.create({ destDir: options.destDir, label, startedAt });
  try {
    await writer.writeBytes(LAYOUT_FILE, encodeSavedLayout(layout, { createdBy: `${options.tool.name} ${options.tool.version} import`, source: options.mbr }));
    const manifestPartitions: ManifestPartition[] = [];
    for (const p of partitions) {
      const { image, header } = assigned.get(p.number)!;
      const name = imageFileName(p.number, 'ntfs');
      progress.note(`partition ${p.number}: ${image} -> ${name}`);
      const file = await writer.writeStream(name, createReadStream(image, { highWaterMark: 1 << 20 }));
      // The copy is decoded end to end: every bzip2 CRC, and one record per cluster in use.
      const { value } = await readCompressedFile(writer.temporaryPath, file, decodeWholeImage, {
        threads: options.threads,
        failOnMismatch: true,
        onWarning: (w) => progress.note(`warning: ${image}: ${w.message}`),
      });
      const { summary, bytes, serial } = value;
      if (summary.clusters !== header.inuse + (summary.noBackupBootSector ? 0 : 1)) {
        throw new SnapcloneError('SET_IMAGE_MISMATCH', `${image} holds ${summary.clusters} cluster records where its header announces ${header.inuse} in use`, { kind: 'input', path: image });
      }
      const { byteOffset, byteLength } = partitionByteRange(p);
      manifestPartitions.push({
        number: p.number,
        startByte: byteOffset,
        sizeBytes: byteLength,
        type: p.type,
        filesystem: 'ntfs',
        image: name,
        imageFormat: 'ntfsclone+bzip2',
        imageBytes: bytes,
        ntfs: { clusterSize: header.cluster_size, nrClusters: header.nr_clusters, inuse: header.inuse, deviceSize: header.device_size, serial },
      });
    }
    const warnings = ["imported from the seed's files: the MBR alone was saved (no boot area between it and the first partition)"];
    const manifest: Omit<Manifest, 'files'> = {
      ...manifestHead(options.tool, label, startedAt),
      source: { path: options.images.join(' '), kind: 'seed-import', sizeBytes: layout.diskSizeBytes },
      consistency: 'crash-consistent',
      disk: { sizeBytes: layout.diskSizeBytes, sectorSize: SECTOR_BYTES, label: 'dos', id: layout.id, layoutFile: LAYOUT_FILE },
      partitions: manifestPartitions,
      compression: { format: 'bzip2', level: headers[0]!.level, threads: 1 },
      timings: { totalSeconds: Math.round(performance.now() - t0) / 1000, imagingSeconds: 0 },
      warnings,
    };
    for (const w of warnings) progress.note(`warning: ${w}`);
    const committed = await writer.commit(manifest);
    progress.note(`set ${committed.name} imported: the disk needs ${layout.diskSizeBytes} bytes (the end of its last partition)`);
    return { setPath: committed.path, setName: committed.name, manifest: committed.manifest };
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

/** The layout of a disk of which only the 512-byte MBR is known: primaries only, sized to the last one. */
async function layoutFromMbr(path: string): Promise<DiskLayout> {
  const bytes = await readBoundedBytes(path, 64 * 1024).catch((e: unknown) => {
    throw e instanceof SnapcloneError ? e : ioError(e, path, 'read');
  });
  if (bytes.byteLength < SECTOR_BYTES || !hasBootSignature(bytes.subarray(0, SECTOR_BYTES))) {
    throw new SnapcloneError('SET_IMPORT_BAD_MBR', `${path} is not a saved MBR`, {
      kind: 'input',
      path,
      byteOffset: Math.min(bytes.byteLength, 510),
      expected: 'a 512-byte sector ending in 55 aa (dd if=DISK of=FILE bs=512 count=1)',
      actual: `${bytes.byteLength} bytes`,
    });
  }
  const sector = bytes.slice(0, SECTOR_BYTES);
  const entries = decodeMbrSector(sector).entries.filter((e) => e.sectorCount > 0 && e.type !== 0);
  if (entries.some((e) => e.type === TYPE_GPT_PROTECTIVE)) {
    throw new SnapcloneError('SET_IMPORT_BAD_MBR', `${path} is a GPT protective MBR: the GPT itself was not saved`, { kind: 'input', path });
  }
  if (entries.some((e) => EXTENDED_TYPES.has(e.type))) {
    throw new SnapcloneError('SET_IMPORT_LOGICAL', `${path} lists an extended partition, but its logical partitions live in EBRs that a 512-byte copy does not hold`, {
      kind: 'input',
      path,
      hint: 'the seed\'s backups of such disks cannot be restored as a whole; restore each image with `bunzip2 -c IMG | ntfsclone -r -O PART -`',
    });
  }
  if (entries.length === 0) throw new SnapcloneError('SET_IMPORT_BAD_MBR', `${path} lists no partition`, { kind: 'input', path });
  const diskBytes = Math.max(...entries.map((e) => (e.startLba + e.sectorCount) * SECTOR_BYTES));
  const disk = new RegionDisk([{ role: 'mbr', lba: 0, bytes: sector }], SECTOR_BYTES, diskBytes);
  return readLayout(disk, { sectorSize: SECTOR_BYTES, captureBootArea: false });
}

/** The block size digit of a .bz2 ("BZh2": bzip2 -2). */
async function bzip2Level(path: string): Promise<number> {
  const head = new Uint8Array(4);
  try {
    const h = await open(path, 'r');
    try {
      await h.read(head, 0, 4, 0);
    } finally {
      await h.close();
    }
  } catch (e) {
    throw ioError(e, path, 'read');
  }
  const level = (head[3] ?? 0) - 0x30;
  if (head[0] !== 0x42 || head[1] !== 0x5a || head[2] !== 0x68 || !(level >= 1 && level <= 9)) {
    throw new SnapcloneError('BZ2_BAD_MAGIC', `${path} is not a bzip2 file`, { path, byteOffset: 0, expected: 'BZh1..BZh9', actual: Buffer.from(head).toString('latin1') });
  }
  return level;
}

/** The ntfsclone header at the start of a .img.bz2 (decompressing only the first block). */
async function peekHeader(path: string): Promise<ImageHeader> {
  const input = createReadStream(path, { highWaterMark: 256 * 1024 });
  const decompress = createDecompressStream({ threads: 1 });
  input.on('error', (e) => decompress.destroy(e));
  input.pipe(decompress);
  const head = new Uint8Array(IMAGE_DATA_OFFSET);
  let fill = 0;
  try {
    for await (const chunk of decompress) {
      const c = chunk as Uint8Array;
      const take = Math.min(c.byteLength, head.byteLength - fill);
      head.set(c.subarray(0, take), fill);
      fill += take;
      if (fill === head.byteLength) break;
    }
  } catch (e) {
    throw e instanceof SnapcloneError ? e.withPath(path) : ioError(e, path, 'read');
  } finally {
    input.destroy();
    decompress.destroy();
  }
  try {
    return decodeImageHeader(head.subarray(0, fill));
  } catch (e) {
    throw e instanceof SnapcloneError ? e.withPath(path) : e;
  }
}

async function decodeWholeImage(chunks: AsyncIterable<Uint8Array>): Promise<{ summary: DecodeSummary; bytes: number; serial: string }> {
  let serial = 'unknown';
  const decoder = new ImageDecoder({
    data(offset, bytes) {
      // The boot sector (cluster 0) carries the volume serial number.
      if (offset <= OFF_BOOT_SERIAL && offset + bytes.byteLength >= OFF_BOOT_SERIAL + 8) {
        const view = new DataView(bytes.buffer, bytes.byteOffset + OFF_BOOT_SERIAL - offset, 8);
        serial = `0x${view.getBigUint64(0, true).toString(16).padStart(16, '0')}`;
      }
    },
  });
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.byteLength;
    decoder.push(chunk);
  }
  return { summary: decoder.end(), bytes, serial };
}
