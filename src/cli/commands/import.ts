// `snapclone import --image VM.img.bz2 --mbr VM.mbr --dest DIR`: turns a backup made with the seed's
// recipe (ntfsclone | bzip2, dd of the MBR) into a backup set that list, verify and restore handle.

import { Command, Option } from 'commander';
import { parseIntegerOption } from '../../core/units.js';
import { importSeedBackup } from '../../backup/import-seed.js';
import { progressFromOptions } from '../progress.js';
import { TOOL_VERSION } from '../version.js';

interface ImportCliOptions {
  image: string[];
  mbr: string;
  dest: string;
  name?: string;
  partition?: string;
  threads?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: string;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description("import a backup made with the seed's recipe (ntfsclone -s -o - PART | bzip2 > X.img.bz2, dd of the MBR) as a backup set")
    .requiredOption('--image <file.img.bz2>', "an ntfsclone image compressed with bzip2, as the seed's pipeline wrote it (repeatable: one per partition)", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .requiredOption('--mbr <file>', 'the 512-byte copy of the MBR (dd if=DISK of=FILE bs=512 count=1)')
    .requiredOption('--dest <dir>', 'the directory of backup sets to add it to')
    .option('--name <label>', 'the set label (default: the image file name without .img.bz2)')
    .option('--partition <n>', 'the partition of a single image, when its size matches several')
    .option('--threads <n>', 'decompression threads for the check (default: one per core)')
    .option('--json', 'print the set path and manifest on stdout')
    .option('-q, --quiet', 'no progress and no messages')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText(
      'after',
      '\nThe image is matched to its partition by the device size in its header, copied into the set with\n' +
        'its SHA-256 and decoded end to end. The set is dated when the image was written.\n\n' +
        'Example:\n  snapclone import --image /backups/winxp_1.img.bz2 --mbr /backups/winxp.mbr --dest /srv/backups\n' +
        '  snapclone restore /srv/backups/winxp_1-20081116T020000Z --create-lv vgnew/winxp',
    )
    .action(async (opts: ImportCliOptions) => {
      const r = await importSeedBackup({
        images: opts.image,
        mbr: opts.mbr,
        destDir: opts.dest,
        label: opts.name,
        partition: opts.partition === undefined ? undefined : parseIntegerOption(opts.partition, '--partition', 1, 4),
        threads: opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256),
        progress: progressFromOptions(opts),
        tool: { name: 'snapclone', version: TOOL_VERSION },
      });
      if (opts.json) process.stdout.write(`${JSON.stringify({ set: r.setPath, name: r.setName, manifest: r.manifest })}\n`);
    });
}
