// `snapclone layout show|save|apply`: list a disk's partition table as sfdisk does, save it (tables,
// EBRs, GPT copies and boot area) to one JSON file, and write it back onto a blank disk or LV.

import { Command, Option } from 'commander';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { SnapcloneError, type Warning } from '../../core/errors.js';
import { isAllZero } from '../../core/bytes.js';
import { parseIntegerOption, formatBytes } from '../../core/units.js';
import { createAtomicFile } from '../../io/atomic-file.js';
import { logicalSectorSize } from '../../io/logical-sector-size.js';
import { ioError, SourceFile } from '../../io/source-file.js';
import {
  applyLayout,
  decodeSavedLayout,
  encodeSavedLayout,
  partitionEndLba,
  planApply,
  readLayout,
  type DiskLayout,
  type Partition,
} from '../../partition/index.js';
import { partitionTypeName } from '../../partition/partition-types.js';
import { progressFromOptions } from '../progress.js';
import { TOOL_VERSION } from '../version.js';

interface ReadOptions {
  sectorSize?: string;
  strict?: boolean;
}

interface ShowOptions extends ReadOptions {
  json?: boolean;
}

interface SaveOptions extends ReadOptions {
  output: string;
  overwrite?: boolean;
  quiet?: boolean;
  progress?: string;
}

interface ApplyCliOptions {
  growLast?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
  progress?: string;
}

/** The bytes at the start of a target that must be zero for apply to go on without --overwrite. */
const BLANK_CHECK_BYTES = 8192;

export function registerLayout(program: Command): void {
  const layout = program
    .command('layout')
    .description('show, save and apply partition layouts (MBR, logical partitions, GPT) without fdisk or dd');

  const sectorSizeOption = (): Option =>
    new Option('--sector-size <bytes>', 'logical sector size of a dos disk (default: the device\'s, or 512 for files; gpt is detected)');

  layout
    .command('show')
    .description('list the partition table of a disk, image file or LV (like sfdisk -l; --json like sfdisk -J)')
    .argument('<disk>', 'disk, LV or image file')
    .option('--json', 'print JSON: label, sectorSize, id, partitions (start and size in sectors)')
    .addOption(sectorSizeOption())
    .option('--strict', 'treat every warning as an error')
    .action(async (disk: string, opts: ShowOptions) => {
      const l = await readDisk(disk, opts, false);
      if (opts.json) process.stdout.write(`${JSON.stringify(showJson(l), null, 2)}\n`);
      else process.stdout.write(showText(disk, l));
      printWarnings(l.warnings);
    });

  layout
    .command('save')
    .description('save the partition table, EBRs, GPT copies and boot area of a disk to a layout file')
    .argument('<disk>', 'disk, LV or image file')
    .requiredOption('-o, --output <file>', 'the layout file to write (JSON)')
    .option('--overwrite', 'replace the output file if it exists')
    .addOption(sectorSizeOption())
    .option('--strict', 'treat every warning as an error')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .action(async (disk: string, opts: SaveOptions) => {
      const l = await readDisk(disk, opts, true);
      const bytes = encodeSavedLayout(l, { createdBy: `snapclone ${TOOL_VERSION}`, source: disk });
      const out = await createAtomicFile(opts.output, { overwrite: !!opts.overwrite });
      try {
        await out.handle.writeFile(bytes);
        await out.commit();
      } catch (e) {
        await out.abort();
        throw e;
      }
      if (!opts.quiet) {
        printWarnings(l.warnings);
        progressFromOptions(opts).note(
          `saved the ${l.label} layout of ${disk} (${l.partitions.length} partitions, ${l.regions.length} regions) to ${opts.output}`,
        );
      }
    });

  layout
    .command('apply')
    .description('write a saved layout onto a blank disk, LV or image file (created if missing, never shrunk)')
    .argument('<file>', 'layout file written by `layout save`')
    .argument('<disk>', 'target disk, LV or image file')
    .option('--grow-last', 'extend the last partition to the end of the target')
    .option('--overwrite', 'write even though the target already holds a partition table or data at its start')
    .option('-q, --quiet', 'print nothing but errors')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .action(async (file: string, disk: string, opts: ApplyCliOptions) => {
      await runApply(file, disk, opts);
    });
}

function parseSectorSize(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseIntegerOption(text, '--sector-size', 512, 4096);
}

async function readDisk(path: string, opts: ReadOptions, captureBootArea: boolean): Promise<DiskLayout> {
  const sectorSize = parseSectorSize(opts.sectorSize) ?? (await logicalSectorSize(path));
  const disk = await SourceFile.open(path);
  try {
    return await readLayout(disk, { sectorSize, captureBootArea, strict: !!opts.strict });
  } catch (e) {
    throw e instanceof SnapcloneError ? e.withPath(path) : e;
  } finally {
    await disk.close();
  }
}

function printWarnings(warnings: readonly Warning[]): void {
  for (const w of warnings) process.stderr.write(`snapclone: warning ${w.code}: ${w.message}\n`);
}

/** The --json document: what sfdisk -J lists, with numbers instead of device nodes. */
export function showJson(l: DiskLayout): Record<string, unknown> {
  return {
    label: l.label,
    sectorSize: l.sectorSize,
    id: l.id,
    diskSizeBytes: l.diskSizeBytes,
    ...(l.gpt ? { firstLba: l.gpt.firstUsableLba, lastLba: l.gpt.lastUsableLba, hybridMbr: l.gpt.hybridMbr } : {}),
    partitions: l.partitions.map((p) => ({
      number: p.number,
      start: p.startLba,
      size: p.sectorCount,
      type: p.type,
      ...(p.bootable ? { bootable: true } : {}),
      ...(p.name ? { name: p.name } : {}),
      ...(p.uuid ? { uuid: p.uuid } : {}),
      ...(p.attrs ? { attrs: p.attrs } : {}),
    })),
    warnings: l.warnings.map((w) => ({ code: w.code, message: w.message })),
  };
}

function showText(path: string, l: DiskLayout): string {
  const sectors = Math.floor(l.diskSizeBytes / l.sectorSize);
  const lines = [
    `Disk ${path}: ${formatBytes(l.diskSizeBytes)}, ${l.diskSizeBytes} bytes, ${sectors} sectors`,
    `Sector size: ${l.sectorSize} bytes`,
    `Disklabel type: ${l.label}`,
    `Disk identifier: ${l.id}`,
  ];
  if (l.gpt) {
    lines.push(`Usable sectors: ${l.gpt.firstUsableLba}-${l.gpt.lastUsableLba}, ${l.gpt.entryCount} entries of ${l.gpt.entrySize} bytes`);
    if (l.gpt.hybridMbr) lines.push('Hybrid MBR: yes');
  }
  lines.push('');
  const header =
    l.label === 'dos'
      ? ['Device', 'Boot', 'Start', 'End', 'Sectors', 'Size', 'Id', 'Type']
      : ['Device', 'Start', 'End', 'Sectors', 'Size', 'Type', 'Name', 'Attrs'];
  const rows = l.partitions.map((p: Partition) => {
    const common = [String(p.startLba), String(partitionEndLba(p)), String(p.sectorCount), formatBytes(p.sectorCount * p.sectorSize)];
    return l.label === 'dos'
      ? [`${path}${p.number}`, p.bootable ? '*' : '', ...common, p.type, partitionTypeName('dos', p.type)]
      : [`${path}${p.number}`, ...common, partitionTypeName('gpt', p.type), p.name ?? '', p.attrs ?? ''];
  });
  if (rows.length === 0) return `${lines.join('\n')}No partitions.\n`;
  const numeric = new Set(['Start', 'End', 'Sectors', 'Size', 'Id']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (numeric.has(header[i] as string) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join(' ')
      .trimEnd();
  lines.push(fmt(header), ...rows.map(fmt));
  return `${lines.join('\n')}\n`;
}

async function runApply(file: string, disk: string, opts: ApplyCliOptions): Promise<void> {
  let text: Uint8Array;
  try {
    text = await readFile(file);
  } catch (e) {
    throw ioError(e, file, 'read');
  }
  const layout = await decodeSavedLayout(text).catch((e: unknown) => {
    throw e instanceof SnapcloneError ? e.withPath(file) : e;
  });
  const progress = progressFromOptions(opts);

  const created = await createIfMissing(disk);
  let target: SourceFile;
  try {
    target = await SourceFile.open(disk, { writable: true });
  } catch (e) {
    if (created) await rm(disk, { force: true });
    throw e;
  }
  let done = false;
  try {
    if (target.kind === 'block-device') {
      const deviceSectorSize = await logicalSectorSize(disk);
      if (deviceSectorSize !== undefined && deviceSectorSize !== layout.sectorSize) {
        throw new SnapcloneError('PT_SECTOR_SIZE_MISMATCH', `the layout has ${layout.sectorSize}-byte sectors but ${disk} has ${deviceSectorSize}-byte sectors`, {
          kind: 'refused',
          path: disk,
          expected: layout.sectorSize,
          actual: deviceSectorSize,
        });
      }
    }
    const holdsData = await startsWithData(target);
    if (holdsData && !opts.overwrite) {
      throw new SnapcloneError('PT_TARGET_NOT_EMPTY', `${disk} already holds a partition table or data at its start`, {
        kind: 'refused',
        path: disk,
        hint: 'use --overwrite to replace it (everything on the target may become unreachable)',
      });
    }
    // A file target is never shrunk, and is extended to the saved disk size when shorter.
    const targetSizeBytes = target.kind === 'file' ? Math.max(target.sizeBytes, layout.diskSizeBytes) : target.sizeBytes;
    const options = { growLast: !!opts.growLast, wipeStaleGptBackup: holdsData, targetSizeBytes, progress };
    // Plan (and refuse) before the first byte is written, the file extension included.
    planApply(layout, targetSizeBytes, options);
    if (target.kind === 'file' && target.sizeBytes < targetSizeBytes) {
      try {
        await target.handle.truncate(targetSizeBytes);
      } catch (e) {
        throw ioError(e, disk, 'extend');
      }
      target.sizeBytes = targetSizeBytes;
    }
    const plan = await applyLayout(layout, target, options);
    await target.sync();
    done = true;
    if (!opts.quiet) {
      const grown = plan.grown ? `; partition ${plan.grown.number} grown from ${plan.grown.fromSectors} to ${plan.grown.toSectors} sectors` : '';
      progress.note(
        `applied the ${layout.label} layout (${layout.partitions.length} partitions) to ${disk}: ` +
          `${plan.writes.length} writes, ${formatBytes(plan.totalBytes)}${plan.exactReplay ? ', every sector as saved' : ''}${grown}`,
      );
    }
  } catch (e) {
    throw e instanceof SnapcloneError ? e.withPath(disk) : e;
  } finally {
    await target.close();
    // A target file this run created and could not finish is removed, not left half-written.
    if (created && !done) await rm(disk, { force: true });
  }
}

/** Creates an empty file at `path` when nothing is there; true when it did. */
async function createIfMissing(path: string): Promise<boolean> {
  try {
    await stat(path);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, path, 'stat');
  }
  try {
    const h = await open(path, 'wx', 0o644);
    await h.close();
  } catch (e) {
    throw ioError(e, path, 'create');
  }
  return true;
}

async function startsWithData(target: SourceFile): Promise<boolean> {
  const head = new Uint8Array(Math.min(BLANK_CHECK_BYTES, target.sizeBytes));
  const n = await target.readAt(head, 0);
  return !isAllZero(head.subarray(0, n));
}
