// readLayout(): which label a disk carries, its partitions, and the raw sectors that replay it (tables
// and the boot area between the table and the first partition, where GRUB and other loaders live).
// Sector size: GPT headers are found at LBA 1 for 512..4096-byte sectors; a dos label says nothing about
// its sector size, so it is the caller's (the device's logical block size) or 512, with a warning when
// the partitions look like they were laid out in the other size.

import { SnapcloneError, type WarnFn } from '../core/errors.js';
import type { ReadAt } from '../core/read-at.js';
import { readDosLabel, type DosLabel } from './dos-label.js';
import { hasGptSignature } from './gpt-header.js';
import { readGptLabel } from './gpt-label.js';
import { isSectorSize, SECTOR_SIZES, type DiskLayout, type LayoutRegion } from './layout.js';
import { decodeMbrSector, hasBootSignature, TYPE_GPT_PROTECTIVE } from './mbr.js';
import { ReadContext } from './read-context.js';

export interface ReadLayoutOptions {
  /** The logical sector size, when known (a block device's); otherwise detected (gpt) or 512 (dos). */
  sectorSize?: number;
  /** Read the boot area (default true); `layout show` does not need it. */
  captureBootArea?: boolean;
  /** At most this much boot area is kept (default 32 MiB); more is reported with a warning. */
  maxBootAreaBytes?: number;
  onWarning?: WarnFn;
  /** Turn every warning into an error. */
  strict?: boolean;
}

export const DEFAULT_MAX_BOOT_AREA_BYTES = 32 * 1024 * 1024;
const BOOT_AREA_CHUNK_BYTES = 1024 * 1024;
const FIRST_PROBE_BYTES = 512;

export async function readLayout(disk: ReadAt, options: ReadLayoutOptions = {}): Promise<DiskLayout> {
  if (options.sectorSize !== undefined && !isSectorSize(options.sectorSize)) {
    throw new SnapcloneError('PT_BAD_SECTOR_SIZE', `${options.sectorSize} is not a logical sector size`, {
      kind: 'usage',
      expected: SECTOR_SIZES.join(', '),
      actual: options.sectorSize,
    });
  }
  const probe = new Uint8Array(FIRST_PROBE_BYTES);
  const n = await disk.readAt(probe, 0);
  if (n < FIRST_PROBE_BYTES) {
    throw new SnapcloneError('PT_TRUNCATED', 'the disk is shorter than one sector', {
      byteOffset: n,
      expected: `at least ${FIRST_PROBE_BYTES} bytes`,
      actual: `${n} bytes`,
    });
  }
  if (!hasBootSignature(probe)) {
    const gptAt = await findGptHeader(disk);
    throw new SnapcloneError('PT_NO_TABLE', 'no partition table: sector 0 has no 0x55AA signature', {
      byteOffset: 510,
      expected: '55 aa',
      actual: `${hex2(probe[510])} ${hex2(probe[511])}`,
      hint:
        gptAt !== undefined
          ? `a GPT header is present at byte ${gptAt} but the protective MBR is missing`
          : 'the disk is blank, or holds a bare file system without a partition table',
    });
  }
  const isGpt = decodeMbrSector(probe).entries.some((e) => e.type === TYPE_GPT_PROTECTIVE);
  const sectorSize = options.sectorSize ?? (isGpt ? ((await findGptHeader(disk)) ?? 512) : 512);
  const ctx = new ReadContext(disk, sectorSize, options.onWarning, options.strict ?? false);
  if (ctx.diskSectors < 1) {
    throw new SnapcloneError('PT_TRUNCATED', 'the disk is shorter than one sector', {
      expected: `at least ${sectorSize} bytes`,
      actual: `${disk.sizeBytes} bytes`,
    });
  }
  const sector0 = await ctx.readSectors(0, 1, 'the MBR');
  let layout: DiskLayout;
  if (isGpt) {
    const gpt = await readGptLabel(ctx, sector0);
    layout = {
      label: 'gpt',
      sectorSize,
      diskSizeBytes: disk.sizeBytes,
      id: gpt.id,
      partitions: gpt.partitions,
      warnings: ctx.warnings,
      regions: gpt.regions,
      gpt: gpt.info,
    };
  } else {
    const dos = await readDosLabel(ctx, sector0);
    if (options.sectorSize === undefined) await checkDosSectorSize(ctx, dos);
    layout = {
      label: 'dos',
      sectorSize,
      diskSizeBytes: disk.sizeBytes,
      id: `0x${dos.mbr.diskSignature.toString(16).padStart(8, '0')}`,
      partitions: dos.partitions,
      warnings: ctx.warnings,
      regions: dos.regions,
    };
  }
  if (options.captureBootArea ?? true) {
    layout.regions.push(...(await readBootArea(ctx, layout, options.maxBootAreaBytes ?? DEFAULT_MAX_BOOT_AREA_BYTES)));
  }
  layout.regions.sort((a, b) => a.lba - b.lba);
  return layout;
}

function hex2(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}

/** The byte offset of a GPT header at LBA 1 for some logical sector size, if any. */
async function findGptHeader(disk: ReadAt): Promise<number | undefined> {
  const sig = new Uint8Array(8);
  for (const size of SECTOR_SIZES) {
    if ((await disk.readAt(sig, size)) === 8 && hasGptSignature(sig)) return size;
  }
  return undefined;
}

/** The first sector used by a partition or an EBR; the boot area ends before it. */
export function firstUsedLba(layout: DiskLayout): number | undefined {
  let first: number | undefined;
  for (const p of layout.partitions) if (p.sectorCount > 0 && (first === undefined || p.startLba < first)) first = p.startLba;
  for (const r of layout.regions) if (r.role === 'ebr' && (first === undefined || r.lba < first)) first = r.lba;
  return first;
}

/**
 * The boot area: every sector from LBA 1 up to the first partition that no table region covers (for
 * gpt, the sectors after the primary entries, and any gap between header and entries). Returns
 * [first, end) runs in disk order.
 */
export function bootAreaSpans(layout: DiskLayout, diskSectors: number): { firstLba: number; endLba: number }[] {
  const firstUsed = firstUsedLba(layout);
  // Without partitions: up to the 1 MiB boundary tools align the first partition to, or the GPT's first usable sector.
  const fallback = layout.gpt ? layout.gpt.firstUsableLba : Math.floor((1024 * 1024) / layout.sectorSize);
  const endLba = Math.min(firstUsed ?? fallback, diskSectors);
  const covered = layout.regions
    .map((r) => ({ firstLba: r.lba, endLba: r.lba + r.bytes.byteLength / layout.sectorSize }))
    .sort((a, b) => a.firstLba - b.firstLba);
  const spans: { firstLba: number; endLba: number }[] = [];
  let at = 1;
  for (const c of covered) {
    if (c.firstLba >= endLba) break;
    if (c.firstLba > at) spans.push({ firstLba: at, endLba: c.firstLba });
    at = Math.max(at, c.endLba);
  }
  if (at < endLba) spans.push({ firstLba: at, endLba });
  return spans;
}

async function readBootArea(ctx: ReadContext, layout: DiskLayout, maxBytes: number): Promise<LayoutRegion[]> {
  let budgetSectors = Math.floor(maxBytes / ctx.sectorSize);
  const regions: LayoutRegion[] = [];
  for (const span of bootAreaSpans(layout, ctx.diskSectors)) {
    let sectorCount = span.endLba - span.firstLba;
    if (sectorCount > budgetSectors) {
      ctx.warn(
        'PT_BOOT_AREA_TRUNCATED',
        `the gap before the first partition is larger than ${maxBytes} bytes; sectors ${span.firstLba + budgetSectors}-${span.endLba - 1} are not kept`,
        ctx.byteOffsetOf(span.firstLba + budgetSectors),
      );
      sectorCount = budgetSectors;
    }
    if (sectorCount <= 0) break;
    budgetSectors -= sectorCount;
    const bytes = new Uint8Array(sectorCount * ctx.sectorSize);
    const chunkSectors = Math.max(1, Math.floor(BOOT_AREA_CHUNK_BYTES / ctx.sectorSize));
    for (let done = 0; done < sectorCount; done += chunkSectors) {
      const count = Math.min(chunkSectors, sectorCount - done);
      bytes.set(await ctx.readSectors(span.firstLba + done, count, 'the boot area'), done * ctx.sectorSize);
    }
    regions.push({ role: 'boot-area', lba: span.firstLba, bytes });
  }
  return regions;
}

/**
 * A dos label read with 512-byte sectors whose partitions only make sense with 4096-byte ones (or the
 * reverse) gets a warning: boot-sector signatures are looked for at both places.
 */
async function checkDosSectorSize(ctx: ReadContext, dos: DosLabel): Promise<void> {
  const other = ctx.sectorSize === 512 ? 4096 : 512;
  let here = 0;
  let there = 0;
  const probe = new Uint8Array(2);
  const signedAt = async (byteOffset: number): Promise<boolean> =>
    Number.isSafeInteger(byteOffset) && (await ctx.disk.readAt(probe, byteOffset + 510)) === 2 && probe[0] === 0x55 && probe[1] === 0xaa;
  for (const p of dos.partitions) {
    if (p.kind === 'logical' || p.startLba === 0) continue;
    if (await signedAt(p.startLba * ctx.sectorSize)) here++;
    if (await signedAt(p.startLba * other)) there++;
  }
  if (there > 0 && here === 0) {
    ctx.warn(
      'PT_SECTOR_SIZE_SUSPECT',
      `the partitions look laid out in ${other}-byte sectors, not ${ctx.sectorSize}: read again with --sector-size ${other}`,
      0,
    );
  }
}
