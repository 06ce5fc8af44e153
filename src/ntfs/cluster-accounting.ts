// Which clusters a save writes, exactly as ntfsclone chooses them: the $Bitmap bits below
// nr_clusters, minus the clusters of $BadClus:$Bad, plus cluster nr_clusters (the backup boot
// sector chunk). Optionally (the default) ntfsclone's consistency check too: walk every in-use
// inode's runlists and refuse when they disagree with $Bitmap or reference a cluster twice.
// Spec: docs/spec/ntfsclone-format.md §3 (walk_clusters, compare_bitmaps, ignore_bad_clusters).

import { SnapcloneError } from '../core/errors.js';
import { silentProgress, type Progress } from '../core/progress.js';
import { AT_ATTRIBUTE_LIST, emptyAttributeRecord, forEachAttribute, readAttributes, type AttributeRecord } from './attribute.js';
import { decodeMftRecord, hasFileMagic, MFT_RECORD_IN_USE } from './mft-record.js';
import { forEachRun } from './runlist.js';
import { readStream } from './stream-reader.js';
import type { MftRecord, NtfsVolume } from './volume.js';

export interface SaveSet {
  /** ⌈(nrClusters+1)/8⌉ bytes; bit c set = cluster c is saved. Bit nrClusters is always set. */
  bitmap: Uint8Array;
  nrClusters: number;
  /** Clusters saved below nrClusters (the header's `inuse`). */
  inuse: number;
  /** Clusters listed in $BadClus:$Bad (saved as gaps). */
  badClusters: number;
  /** Whether the MFT walk ran and agreed with $Bitmap. */
  checked: boolean;
  /**
   * In-use MFT records the walk skipped because they failed their fixups or header checks
   * (ntfsclone skips them too); their clusters then only count if $Bitmap agrees without them.
   */
  unreadableRecords: number[];
  /**
   * With `deferCheck`: the MFT walk still running. It resolves when the walk agrees with $Bitmap
   * and rejects (NTFS_BITMAP_MISMATCH, ...) otherwise; nothing may be published before it resolves.
   */
  pendingCheck?: Promise<void>;
}

export interface SaveSetOptions {
  /** Walk the MFT and compare with $Bitmap, as ntfsclone does (default true). */
  checkConsistency?: boolean;
  /**
   * Return as soon as $Bitmap is read and run the walk in the background (SaveSet.pendingCheck),
   * so that a save into a temporary file overlaps it. The walk reports no progress then.
   */
  deferCheck?: boolean;
  progress?: Progress;
}

/** At most this many mismatches are listed in the error, as ntfsclone prints at most 10. */
const MAX_LISTED_MISMATCHES = 10;
/** MFT bytes read at a time by the walk. */
const WALK_CHUNK_BYTES = 4 * 1024 * 1024;

const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = (i & 1) + (t[i >> 1] as number);
  return t;
})();

/** Number of set bits among the first `bitCount` bits of `bitmap`. */
export function countBits(bitmap: Uint8Array, bitCount: number): number {
  const whole = bitCount >>> 3;
  let n = 0;
  for (let i = 0; i < whole; i++) n += POPCOUNT[bitmap[i] as number] as number;
  const rest = bitCount & 7;
  if (rest) n += POPCOUNT[(bitmap[whole] as number) & ((1 << rest) - 1)] as number;
  return n;
}

export function bitmapByteCount(nrClusters: number): number {
  return Math.ceil((nrClusters + 1) / 8);
}

/** Computes the save set of `volume` (see the file comment). */
export async function computeSaveSet(volume: NtfsVolume, options: SaveSetOptions = {}): Promise<SaveSet> {
  const progress = options.progress ?? silentProgress;
  const ncl = volume.nrClusters;
  const byteCount = bitmapByteCount(ncl);
  const stream = await volume.bitmapStream();
  // $Bitmap must cover nr_clusters; the extra bit for the backup boot sector chunk need not exist
  // (mkntfs makes exactly nr_clusters/8 bytes when that is a multiple of 8) and is then not compared.
  const neededBytes = Math.ceil(ncl / 8);
  const compareBytes = Math.min(byteCount, stream.dataSize);
  if (stream.dataSize < neededBytes) {
    throw new SnapcloneError('NTFS_BITMAP_TOO_SMALL', '$Bitmap is smaller than the volume needs', {
      expected: `at least ${neededBytes} bytes for ${ncl} clusters`,
      actual: `${stream.dataSize} bytes`,
      hint: 'the volume is damaged: run chkdsk /f on Windows',
    });
  }
  const bitmap = new Uint8Array(byteCount);
  await readStream(volume.source, volume.clusterSize, stream, 0, bitmap.subarray(0, compareBytes));

  const checked = options.checkConsistency ?? true;
  const unreadableRecords: number[] = [];
  let pendingCheck: Promise<void> | undefined;
  // ntfsclone's compare also covers the $Bitmap bits from nr_clusters to the end of their byte,
  // which must be set; check them at once (the walk's map has them preset).
  for (let c = ncl; c < compareBytes * 8; c++) {
    if (!(((bitmap[c >>> 3] as number) >> (c & 7)) & 1)) throw mismatchError([{ cluster: c, missing: true }], 1);
  }
  if (checked) {
    const onDisk = options.deferCheck ? bitmap.slice(0, compareBytes) : bitmap.subarray(0, compareBytes);
    const check = async (walkProgress: Progress): Promise<void> => {
      const walked = await walkClusters(volume, walkProgress, (n) => unreadableRecords.push(n));
      compareBitmaps(walked.subarray(0, compareBytes), onDisk, unreadableRecords);
    };
    if (options.deferCheck) {
      pendingCheck = check(silentProgress);
      pendingCheck.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
    } else {
      await check(progress);
    }
  }
  // Bits past nr_clusters: only nr_clusters itself (the backup boot sector chunk) is saved.
  const lastByte = ncl >>> 3;
  bitmap[lastByte] = ((bitmap[lastByte] as number) & ((1 << (ncl & 7)) - 1)) | (1 << (ncl & 7));
  let badClusters = 0;
  for (const run of await volume.badClusterRuns()) {
    for (let c = run.lcn; c < run.lcn + run.length; c++) {
      bitmap[c >>> 3] = (bitmap[c >>> 3] as number) & ~(1 << (c & 7));
      badClusters++;
    }
  }
  return { bitmap, nrClusters: ncl, inuse: countBits(bitmap, ncl), badClusters, checked, unreadableRecords, pendingCheck };
}

interface Mismatch {
  cluster: number;
  /** true: referenced by a file but clear in $Bitmap; false: set in $Bitmap but not referenced. */
  missing: boolean;
}

function mismatchError(listed: Mismatch[], total: number, unreadable: number[] = []): SnapcloneError {
  const first = listed[0] as Mismatch;
  const damaged =
    unreadable.length === 0
      ? ''
      : ` (${unreadable.length} in-use MFT record${unreadable.length === 1 ? '' : 's'} could not be read: ${unreadable.slice(0, 5).join(', ')}${unreadable.length > 5 ? ', ...' : ''})`;
  return new SnapcloneError(
    'NTFS_BITMAP_MISMATCH',
    `filesystem check failed: ${total} cluster accounting mismatch${total === 1 ? '' : 'es'} between the MFT and $Bitmap (` +
      listed.map((m) => `${m.cluster} ${m.missing ? 'missing in' : 'extra in'} $Bitmap`).join(', ') +
      (total > listed.length ? ', ...' : '') +
      ')',
    {
      kind: 'refused',
      expected: `cluster ${first.cluster} ${first.missing ? 'set' : 'clear'} in $Bitmap`,
      actual: first.missing ? 'clear' : 'set',
      hint: `Windows wasn't shut down properly or the file system is inconsistent${damaged}: run chkdsk /f on Windows, then reboot it twice`,
    },
  );
}

function compareBitmaps(walked: Uint8Array, bitmap: Uint8Array, unreadable: number[]): void {
  const listed: Mismatch[] = [];
  let total = 0;
  for (let i = 0; i < walked.byteLength; i++) {
    const diff = (walked[i] as number) ^ (bitmap[i] as number);
    if (diff === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if (!((diff >> bit) & 1)) continue;
      total++;
      if (listed.length < MAX_LISTED_MISMATCHES) listed.push({ cluster: i * 8 + bit, missing: (((walked[i] as number) >> bit) & 1) === 1 });
    }
  }
  if (total > 0) throw mismatchError(listed, total, unreadable);
}

/** Marks clusters [lcn, lcn+length) in `map`; returns the first one already marked, or -1. */
function markRun(map: Uint8Array, lcn: number, length: number): number {
  let c = lcn;
  const end = lcn + length;
  // Bit by bit up to a byte boundary, whole bytes in the middle, bits again at the end.
  while (c < end && c & 7) {
    const m = 1 << (c & 7);
    if ((map[c >>> 3] as number) & m) return c;
    map[c >>> 3] = (map[c >>> 3] as number) | m;
    c++;
  }
  while (end - c >= 8) {
    const i = c >>> 3;
    if (map[i] !== 0) {
      const b = map[i] as number;
      for (let k = 0; k < 8; k++) if ((b >> k) & 1) return c + k;
    }
    map[i] = 0xff;
    c += 8;
  }
  while (c < end) {
    const m = 1 << (c & 7);
    if ((map[c >>> 3] as number) & m) return c;
    map[c >>> 3] = (map[c >>> 3] as number) | m;
    c++;
  }
  return -1;
}

/**
 * ntfsclone's walk_clusters: marks every cluster of every non-resident attribute of every in-use
 * base inode (extent records reached through the inode's attribute list). Bits from nr_clusters to
 * the end of the last byte are preset, as in ntfsclone, so a run reaching them counts twice.
 */
export async function walkClusters(
  volume: NtfsVolume,
  progress: Progress = silentProgress,
  onUnreadable: (recordNumber: number, error: SnapcloneError) => void = () => {},
): Promise<Uint8Array> {
  const ncl = volume.nrClusters;
  const map = new Uint8Array(bitmapByteCount(ncl));
  for (let c = ncl; c < map.byteLength * 8; c++) map[c >>> 3] = (map[c >>> 3] as number) | (1 << (c & 7));
  const rs = volume.boot.mftRecordSize;
  const count = volume.recordCount;
  const perChunk = Math.max(1, Math.floor(WALK_CHUNK_BYTES / rs));
  const chunk = new Uint8Array(perChunk * rs);
  progress.begin('Checking the MFT', count * rs);

  let current: MftRecord | undefined;
  let currentAttr: AttributeRecord | undefined;
  const onRun = (_vcn: number, lcn: number, length: number): void => {
    if (lcn < 0) return;
    const twice = markRun(map, lcn, length);
    if (twice >= 0) {
      const record = current as MftRecord;
      throw new SnapcloneError('NTFS_CLUSTER_REFERENCED_TWICE', `cluster ${twice} is referenced twice (second time by MFT record ${record.header.recordNumber})`, {
        kind: 'refused',
        byteOffset: record.volumeByteOffset + (currentAttr as AttributeRecord).recordOffset,
        expected: 'each cluster used by one file',
        actual: `cluster ${twice} used again`,
        hint: "Windows wasn't shut down properly or the file system is inconsistent: run chkdsk /f on Windows",
      });
    }
  };
  // The runlist context and the per-attribute visitor are reused for every record: the walk
  // visits every attribute of the volume and keeps nothing of them.
  const ctx = { recordNumber: 0, volumeByteOffset: 0, nrClusters: ncl };
  const scratch = emptyAttributeRecord();
  let hasList = false;
  const visit = (a: AttributeRecord): void => {
    if (a.type === AT_ATTRIBUTE_LIST) hasList = true;
    if (!a.nonResident) return;
    currentAttr = a;
    forEachRun((current as MftRecord).bytes, a.mappingPairsOffset, a.recordOffset + a.length, a.lowestVcn, a.highestVcn, ctx, onRun);
  };
  const markRecord = (record: MftRecord, view: DataView): boolean => {
    current = record;
    ctx.recordNumber = record.header.recordNumber;
    ctx.volumeByteOffset = record.volumeByteOffset;
    hasList = false;
    forEachAttribute(record.bytes, record.header, record.volumeByteOffset, view, visit, scratch);
    return hasList;
  };

  for (let first = 0; first < count; first += perChunk) {
    const n = Math.min(perChunk, count - first);
    await volume.readRawRecords(first, n, chunk);
    for (let i = 0; i < n; i++) {
      const bytes = chunk.subarray(i * rs, (i + 1) * rs);
      // Free records and records without a FILE signature are skipped, as ntfsclone skips them.
      if (!hasFileMagic(bytes) || !(((bytes[0x16] as number) | ((bytes[0x17] as number) << 8)) & MFT_RECORD_IN_USE)) continue;
      const number = first + i;
      const volumeByteOffset = volume.recordVolumeOffset(number);
      // One DataView per record, shared by the header and attribute decoders.
      const view = new DataView(chunk.buffer, chunk.byteOffset + i * rs, rs);
      let header;
      try {
        header = decodeMftRecord(bytes, number, volumeByteOffset, view);
      } catch (e) {
        // ntfsclone cannot open such an inode (EIO) and skips it; do the same, and say so.
        if (e instanceof SnapcloneError && (e.code === 'NTFS_BAD_FIXUP' || e.code === 'NTFS_BAD_RECORD')) {
          onUnreadable(number, e);
          continue;
        }
        throw e;
      }
      if (header.isExtent) continue; // reached through its base inode's attribute list
      const record: MftRecord = { bytes, header, attrs: [], volumeByteOffset };
      if (markRecord(record, view)) {
        // Rare: the inode continues in extent records named by its attribute list.
        record.attrs = readAttributes(bytes, header, volumeByteOffset, view);
        const entries = (await volume.attributeList(record)) ?? [];
        const extents = new Set(entries.map((e) => e.recordNumber).filter((r) => r !== number));
        for (const e of extents) {
          const ext = await volume.readExtent(e, number);
          markRecord(ext, new DataView(ext.bytes.buffer, ext.bytes.byteOffset, ext.bytes.byteLength));
        }
      }
    }
    progress.update((first + n) * rs);
  }
  progress.end();
  return map;
}
