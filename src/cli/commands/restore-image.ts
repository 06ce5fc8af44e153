// `snapclone restore-image IMAGE TARGET`: ntfsclone --restore-image onto a regular file (sparse,
// under a temporary name until complete), a block device (--overwrite) or stdout ('-').
// Spec: docs/spec/ntfsclone-format.md §5.

import { Command, Option } from 'commander';
import { createReadStream } from 'node:fs';
import { SnapcloneError } from '../../core/errors.js';
import { formatBytes, parseIntegerOption } from '../../core/units.js';
import { openImageInput } from '../../backup/image-input.js';
import { restoreImage } from '../../backup/restore-image.js';
import { openRestoreTarget } from '../../io/restore-target.js';
import { ioError } from '../../io/source-file.js';
import { progressFromOptions } from '../progress.js';

interface RestoreImageCliOptions {
  overwrite?: boolean;
  threads?: string;
  quiet?: boolean;
  progress?: string;
}

export function registerRestoreImage(program: Command): void {
  program
    .command('restore-image')
    .description('restore an ntfsclone image (any 10.x, raw or .bz2) onto a file, a block device or standard output')
    .argument('<image>', "the image file (bzip2-compressed or not: detected), or '-' for standard input")
    .argument('<target>', "a file (created sparse), a block device (needs --overwrite), or '-' for standard output")
    .option('--overwrite', 'replace an existing file, or write onto a block device')
    .option('--threads <n>', 'bzip2 decoding threads (default: one per core)')
    .option('-q, --quiet', 'no progress and no messages')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText(
      'after',
      '\nExamples:\n  snapclone restore-image win7.img.bz2 /dev/mapper/vg-win7 --overwrite\n  ssh backup cat win7.img.bz2 | snapclone restore-image - restored.ntfs',
    )
    .action(async (image: string, target: string, opts: RestoreImageCliOptions) => {
      await runRestoreImage(image, target, opts);
    });
}

async function runRestoreImage(image: string, targetPath: string, opts: RestoreImageCliOptions): Promise<void> {
  if (targetPath === '-' && process.stdout.isTTY) {
    throw new SnapcloneError('USAGE_TTY_OUTPUT', 'the restored volume will not be written to a terminal', {
      kind: 'usage',
      hint: 'redirect standard output to a file or a pipe',
    });
  }
  const threads = opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256);
  const progress = progressFromOptions(opts);
  let raw;
  try {
    raw = image === '-' ? process.stdin : createReadStream(image, { highWaterMark: 1024 * 1024 });
    if (raw !== process.stdin) await new Promise<void>((resolve, reject) => raw!.once('open', () => resolve()).once('error', reject));
  } catch (e) {
    throw ioError(e, image, 'open');
  }
  const onWarning = (w: { message: string }): void => progress.note(`warning: ${w.message}`);
  const target = await openRestoreTarget(targetPath, { overwrite: !!opts.overwrite });
  const input = await openImageInput(raw, { threads, onWarning });
  let afterImageBytes = 0;
  try {
    const summary = await restoreImage(input.chunks, target, {
      progress,
      onWarning,
      // A compressed image is read to its end before the target is finished, so every block and
      // stream CRC is checked before a restore is reported complete.
      beforeFinish: async () => {
        afterImageBytes = await input.finish();
      },
      onHeader: (h) =>
        progress.note(
          `ntfsclone image ${h.major_ver}.${h.minor_ver}: volume ${formatBytes(h.nr_clusters * h.cluster_size)}, ` +
            `clusters of ${formatBytes(h.cluster_size)}, ${formatBytes(h.inuse * h.cluster_size)} in use`,
        ),
    });
    const after = summary.trailingBytes + afterImageBytes;
    if (after > 0) progress.note(`warning: ignored ${after} bytes after the last cluster of the image`);
    progress.note(`restored ${summary.clusters} clusters to ${target.description}`);
  } catch (e) {
    throw e instanceof SnapcloneError && image !== '-' ? e.withPath(image) : e;
  } finally {
    input.destroy();
  }
}
