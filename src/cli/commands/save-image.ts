// `snapclone save-image SOURCE -o OUT`: ntfsclone --save-image, byte for byte, with an output that
// appears only when complete (ntfsclone leaves a 0-byte file behind on failure; we leave nothing).
// Spec: docs/spec/ntfsclone-format.md §4 and §6.

import { Command, Option } from 'commander';
import { realpath, stat, statfs } from 'node:fs/promises';
import { PassThrough, type Transform } from 'node:stream';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SnapcloneError } from '../../core/errors.js';
import { formatBytes, parseIntegerOption } from '../../core/units.js';
import { createCompressStream } from '../../bzip2/index.js';
import { prepareSave } from '../../backup/save-image.js';
import { createAtomicFile, refuseExisting } from '../../io/atomic-file.js';
import { pathKind } from '../../io/source-file.js';
import { writeFully } from '../../io/write-fully.js';
import { progressFromOptions } from '../progress.js';
import type { Progress } from '../../core/progress.js';

interface SaveImageCliOptions {
  output: string;
  bzip2?: boolean;
  level?: string;
  threads?: string;
  overwrite?: boolean;
  force?: boolean;
  fsCheck?: boolean;
  quiet?: boolean;
  progress?: string;
}

export function registerSaveImage(program: Command): void {
  program
    .command('save-image')
    .description('save an NTFS volume as an ntfsclone image (format 10.1, identical to ntfsclone --save-image)')
    .argument('<source>', 'the NTFS partition: a block device or a file holding the volume')
    .requiredOption('-o, --output <file>', "the image file (compressed with bzip2 when it ends in .bz2), or '-' for standard output")
    .option('--bzip2', 'compress with bzip2 (implied by an output ending in .bz2; use it with -o -)')
    .option('--level <n>', 'bzip2 block size 1..9, as bzip2 -1..-9 (default 9)')
    .option('--threads <n>', 'bzip2 compression threads (default: one per core)')
    .option('--overwrite', 'replace an existing output file')
    .option('-f, --force', 'save a volume flagged dirty (scheduled for chkdsk or not shut down cleanly)')
    .option('--no-fs-check', "trust $Bitmap alone: skip ntfsclone's walk of the MFT (faster on huge MFTs)")
    .option('-q, --quiet', 'no progress and no messages')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText(
      'after',
      '\nExamples:\n  snapclone save-image /dev/mapper/vg-win7snap1 -o win7.img.bz2 --level 2\n  snapclone save-image /dev/sdb1 -o - --bzip2 | ssh backup "cat > win7.img.bz2"',
    )
    .action(async (source: string, opts: SaveImageCliOptions) => {
      await runSaveImage(source, opts);
    });
}

async function runSaveImage(source: string, opts: SaveImageCliOptions): Promise<void> {
  const out = opts.output;
  if (source === '-') {
    throw new SnapcloneError('USAGE_STDIN_SOURCE', 'a volume cannot be read from standard input (only images can)', {
      kind: 'usage',
      hint: 'give the partition or volume file as SOURCE',
    });
  }
  const compress = !!opts.bzip2 || (out !== '-' && /\.bz2$/i.test(out));
  if (!compress && (opts.level !== undefined || opts.threads !== undefined)) {
    throw new SnapcloneError('USAGE_NOT_COMPRESSED', '--level and --threads apply to compressed output only', {
      kind: 'usage',
      hint: 'name the output *.bz2, or add --bzip2',
    });
  }
  const level = opts.level === undefined ? 9 : parseIntegerOption(opts.level, '--level', 1, 9);
  const threads = opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256);
  const codec = (): Transform => (compress ? createCompressStream({ level, threads }) : new PassThrough());
  if (out === '-' && process.stdout.isTTY) {
    throw new SnapcloneError('USAGE_TTY_OUTPUT', 'the image will not be written to a terminal', {
      kind: 'usage',
      hint: 'redirect standard output to a file or a pipe',
    });
  }
  if (out !== '-') {
    const kind = await pathKind(out);
    if (kind === 'directory' || kind === 'block-device' || kind === 'other') {
      throw new SnapcloneError('USAGE_BAD_OUTPUT', `${out} is not a regular file`, { kind: 'usage', path: out, hint: 'give a file name for the image' });
    }
    if (!opts.overwrite) await refuseExisting(out);
    if (kind === 'file' && (await realpath(out)) === (await realpath(source).catch(() => source))) {
      throw new SnapcloneError('USAGE_SAME_FILE', 'the output is the source itself', { kind: 'usage', path: out });
    }
  }
  const progress = progressFromOptions(opts);
  // A file output is a temporary until complete, so the MFT walk can run while the image is
  // written; stdout cannot take bytes back, so there the walk comes first, as in ntfsclone.
  const prepared = await prepareSave(source, { force: opts.force, checkConsistency: opts.fsCheck !== false, overlapCheck: out !== '-', progress });
  try {
    const { boot, volumeInfo, saveSet } = prepared;
    progress.note(
      `NTFS ${volumeInfo.majorVersion}.${volumeInfo.minorVersion} volume: ${formatBytes(boot.nrClusters * boot.clusterSize)}, ` +
        `clusters of ${formatBytes(boot.clusterSize)}, ${formatBytes(saveSet.inuse * boot.clusterSize)} in use ` +
        `(${((100 * saveSet.inuse) / boot.nrClusters).toFixed(1)}%)`,
    );
    if (volumeInfo.dirty) progress.note('warning: the volume is flagged dirty; saving it anyway (--force)');
    if (saveSet.badClusters > 0) progress.note(`warning: the disk has ${saveSet.badClusters} bad cluster(s) (hardware faults); they are saved as gaps`);
    if (out === '-') {
      warnUnreadable(progress, saveSet.unreadableRecords);
      await pipeline(prepared.stream(progress), codec(), process.stdout);
      return;
    }
    // A compressed size cannot be known in advance: there, a full disk shows up as ENOSPC.
    if (!compress) await refuseLowSpace(out, prepared.imageBytes);
    const file = await createAtomicFile(out, { overwrite: !!opts.overwrite });
    try {
      if (compress) {
        await pipeline(prepared.stream(progress), codec(), file.writable());
      } else {
        // Straight positional writes; the Readable reads ahead.
        let position = 0;
        for await (const chunk of prepared.stream(progress)) {
          const bytes = chunk as Uint8Array;
          await writeFully(file.handle, bytes, position, file.temporaryPath);
          position += bytes.byteLength;
        }
      }
      await file.commit();
    } catch (e) {
      await file.abort();
      throw e;
    }
    const written = compress ? ` (bzip2 -${level}: ${formatBytes((await stat(out)).size)})` : '';
    progress.note(`saved ${out}: ${formatBytes(prepared.imageBytes)}${written}`);
    warnUnreadable(progress, saveSet.unreadableRecords);
  } finally {
    await prepared.close();
  }
}

/** The walk skipped in-use records that failed their fixups (as ntfsclone does): say so. */
function warnUnreadable(progress: Progress, records: number[]): void {
  if (records.length === 0) return;
  progress.note(
    `warning: ${records.length} in-use MFT record(s) failed their checksums and were skipped, as ntfsclone skips them ` +
      `(first: ${records.slice(0, 5).join(', ')}); run chkdsk /f`,
  );
}

/** ntfsclone's free-space check for file outputs, before anything is written. */
async function refuseLowSpace(out: string, needBytes: number): Promise<void> {
  let free: number;
  try {
    const s = await statfs(dirname(out));
    free = s.bavail * s.bsize;
  } catch {
    return; // cannot tell: let the writes report ENOSPC
  }
  if (free < needBytes) {
    throw new SnapcloneError('IO_NO_SPACE', `not enough free space for the image in ${dirname(out)}`, {
      kind: 'refused',
      path: out,
      expected: `${needBytes} bytes`,
      actual: `${free} bytes free`,
      hint: 'free some space, choose another destination, or compress the image through a pipe',
    });
  }
}
