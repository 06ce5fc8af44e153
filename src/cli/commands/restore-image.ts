// `snapclone restore-image IMAGE TARGET`: ntfsclone --restore-image onto a regular file (sparse,
// under a temporary name until complete), a block device (--overwrite) or stdout ('-').
// Spec: /work/shared/spec/ntfsclone-format.md §5.

import { Command, Option } from 'commander';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { SnapcloneError } from '../../core/errors.js';
import { formatBytes } from '../../core/units.js';
import { restoreImage } from '../../backup/restore-image.js';
import { openRestoreTarget } from '../../io/restore-target.js';
import { ioError } from '../../io/source-file.js';
import { progressFromOptions } from '../progress.js';

interface RestoreImageCliOptions {
  overwrite?: boolean;
  quiet?: boolean;
  progress?: string;
}

export function registerRestoreImage(program: Command): void {
  program
    .command('restore-image')
    .description('restore an ntfsclone image (any 10.x) onto a file, a block device or standard output')
    .argument('<image>', "the image file, or '-' for standard input")
    .argument('<target>', "a file (created sparse), a block device (needs --overwrite), or '-' for standard output")
    .option('--overwrite', 'replace an existing file, or write onto a block device')
    .option('-q, --quiet', 'no progress and no messages')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText(
      'after',
      '\nExamples:\n  snapclone restore-image win7.img /dev/mapper/vg-win7 --overwrite\n  bunzip2 -c win7.img.bz2 | snapclone restore-image - restored.ntfs',
    )
    .action(async (image: string, target: string, opts: RestoreImageCliOptions) => {
      await runRestoreImage(image, target, opts);
    });
}

/** Refuses a bzip2 file early (the decoder would only say "bad magic"). */
async function refuseCompressed(image: string): Promise<void> {
  let h;
  try {
    h = await open(image, 'r');
  } catch (e) {
    throw ioError(e, image, 'open');
  }
  try {
    const head = new Uint8Array(3);
    await h.read(head, 0, 3, 0);
    if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) {
      throw new SnapcloneError('USAGE_BZIP2_NOT_AVAILABLE', `${image} is bzip2-compressed; compressed images are not available in this build yet`, {
        kind: 'usage',
        path: image,
        hint: `decompress through a pipe: bunzip2 -c ${image} | snapclone restore-image - TARGET`,
      });
    }
  } finally {
    await h.close();
  }
}

async function runRestoreImage(image: string, targetPath: string, opts: RestoreImageCliOptions): Promise<void> {
  if (targetPath === '-' && process.stdout.isTTY) {
    throw new SnapcloneError('USAGE_TTY_OUTPUT', 'the restored volume will not be written to a terminal', {
      kind: 'usage',
      hint: 'redirect standard output to a file or a pipe',
    });
  }
  if (image !== '-') await refuseCompressed(image);
  const progress = progressFromOptions(opts);
  const target = await openRestoreTarget(targetPath, { overwrite: !!opts.overwrite });
  const input = image === '-' ? process.stdin : createReadStream(image, { highWaterMark: 1024 * 1024 });
  try {
    const summary = await restoreImage(input, target, {
      progress,
      onWarning: (w) => progress.note(`warning: ${w.message}`),
      onHeader: (h) =>
        progress.note(
          `ntfsclone image ${h.major_ver}.${h.minor_ver}: volume ${formatBytes(h.nr_clusters * h.cluster_size)}, ` +
            `clusters of ${formatBytes(h.cluster_size)}, ${formatBytes(h.inuse * h.cluster_size)} in use`,
        ),
    });
    if (summary.trailingBytes > 0) progress.note(`warning: ignored bytes after the last cluster of the image`);
    progress.note(`restored ${summary.clusters} clusters to ${target.description}`);
  } catch (e) {
    throw e instanceof SnapcloneError && image !== '-' ? e.withPath(image) : e;
  } finally {
    if (input !== process.stdin) (input as ReturnType<typeof createReadStream>).destroy();
  }
}
