// `snapclone restore SET TARGET`: a backup set back onto a file, a block device, an LV, or a new LV
// created for it (--create-lv). Spec: issue 5 (prompts) "restore".

import { Command, Option } from 'commander';
import { formatBytes, parseIntegerOption } from '../../core/units.js';
import { restoreSet, type RestoreReport } from '../../backup/restore-set.js';
import { Lvm } from '../../lvm/lvm.js';
import { progressFromOptions } from '../progress.js';

interface RestoreCliOptions {
  overwrite?: boolean;
  growLast?: boolean;
  createLv?: string;
  threads?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: string;
}

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a backup set onto a disk image file, a block device or an LV (or a new LV with --create-lv)')
    .argument('<set>', 'the backup set directory (DIR/LABEL-YYYYMMDDTHHMMSSZ)')
    .argument('[target]', 'a new file, a block device, /dev/VG/LV or VG/LV (needs --overwrite unless new)')
    .option('--overwrite', 'write onto an existing block device, LV or file, replacing everything on it')
    .option('--grow-last', 'extend the last partition to the end of a larger target (its file system keeps its size)')
    .option('--create-lv <vg/lv>', 'create this logical volume in an existing VG, sized from the set, and restore onto it')
    .option('--threads <n>', 'decompression threads (default: one per core)')
    .option('--json', 'print the report as one JSON object on stdout')
    .option('-q, --quiet', 'no progress and no messages')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  snapclone restore /srv/backups/winxp-20261126T020000Z --create-lv vg-new/winxp\n' +
        '  snapclone restore /srv/backups/winxp-20261126T020000Z /dev/vg0/winxp --overwrite\n' +
        '  snapclone restore /srv/backups/winxp-20261126T020000Z winxp-restored.img\n' +
        '\nNothing is written when the set is incomplete or damaged or the target too small. The partition\n' +
        'table is written last; each file is checked against its SHA-256 while it is read.',
    )
    .action(async (set: string, target: string | undefined, opts: RestoreCliOptions) => {
      const progress = progressFromOptions(opts);
      const report = await restoreSet({
        setPath: set,
        target,
        createLv: opts.createLv,
        overwrite: !!opts.overwrite,
        growLast: !!opts.growLast,
        threads: opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256),
        lvm: new Lvm(),
        progress,
      });
      progress.note(summary(report));
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    });
}

function summary(r: RestoreReport): string {
  const written = r.partitions.reduce((n, p) => n + p.bytesWritten, 0);
  return (
    `restored ${r.partitions.length} image${r.partitions.length === 1 ? '' : 's'} (${formatBytes(written)}) onto ${r.target}` +
    `${r.createdLv ? ` (new LV ${r.createdLv})` : ''} in ${r.seconds.toFixed(1)} s; every file matched its SHA-256` +
    (r.layout ? `; partition table written${r.layout.exactReplay ? ' exactly as saved' : ''}` : '')
  );
}
