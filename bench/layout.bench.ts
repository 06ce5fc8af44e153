// Partition layouts: snapclone against the seed's way (dd of the MBR + fdisk/sfdisk) and sfdisk, each
// as a whole process, on a 1 GiB sparse disk with a bootable primary, an extended partition with six
// logicals and a 1 MiB boot area; plus the in-process read that backup/restore calls.

import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomFillSync } from 'node:crypto';
import { compare, runProcess, runShell } from './support.js';
import { BENCH_DIR } from './sample-image.js';
import { SourceFile } from '../src/io/source-file.js';
import { readLayout } from '../src/partition/index.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SIZE = 1024 * 1024 * 1024;

function makeDisk(dir: string): string {
  const disk = join(dir, 'layout-bench.img');
  rmSync(disk, { force: true });
  writeFileSync(disk, '');
  truncateSync(disk, SIZE);
  const logicals = [1, 2, 3, 4, 5].map((i) => `${disk}${i + 4} : size=${i * 16}MiB, type=83\n`).join('');
  execFileSync('sfdisk', ['-q', disk], {
    input: `label: dos\nstart=2048, size=256MiB, type=7, bootable\ntype=5\n${logicals}${disk}10 : type=82\n`,
  });
  const boot = Buffer.alloc(1024 * 1024 - 512);
  randomFillSync(boot, 0, 60_000); // a GRUB-sized core image, then zeros
  execFileSync('dd', [`of=${disk}`, 'bs=512', 'seek=1', 'conv=notrunc', 'status=none'], { input: boot });
  return disk;
}

export async function run(): Promise<void> {
  const dir = join(BENCH_DIR, 'layout');
  mkdirSync(dir, { recursive: true });
  const disk = makeDisk(dir);
  const saved = join(dir, 'saved.layout');
  const dump = join(dir, 'saved.sfdisk');
  const mbr = join(dir, 'saved.mbr');
  let serial = 0;
  execFileSync('node', [CLI, 'layout', 'save', '-q', '--overwrite', disk, '-o', saved]);
  execFileSync('sh', ['-c', `sfdisk -d '${disk}' > '${dump}'`]);
  // A fresh sparse file per call: benny may start a call before the previous one's cleanup ran.
  const blankTarget = (): string => {
    const target = join(dir, `target-${serial++}.img`);
    writeFileSync(target, '');
    truncateSync(target, SIZE);
    return target;
  };

  await compare(
    'layout show (whole process)',
    [
      { name: 'sfdisk -J', fn: () => runProcess('sfdisk', ['-J', disk]) },
      { name: 'snapclone layout show --json', fn: () => runProcess('node', [CLI, 'layout', 'show', '--json', disk]) },
    ],
    { baseline: 'sfdisk -J', bytesPerRun: 512 },
  );

  await compare(
    'layout save (whole process)',
    [
      { name: 'seed: dd MBR + sfdisk -d', fn: () => runShell(`dd if='${disk}' of='${mbr}' bs=512 count=1 status=none && sfdisk -d '${disk}' > '${dump}'`) },
      { name: 'snapclone layout save', fn: () => runProcess('node', [CLI, 'layout', 'save', '-q', '--overwrite', disk, '-o', saved]) },
    ],
    { baseline: 'seed: dd MBR + sfdisk -d', bytesPerRun: 1024 * 1024 },
  );

  await compare(
    'layout apply onto a blank 1 GiB file (whole process)',
    [
      {
        name: 'seed: sfdisk < dump + dd MBR back',
        fn: async () => {
          const target = blankTarget();
          await runShell(`sfdisk -q --no-reread '${target}' < '${dump}' && dd if='${mbr}' of='${target}' bs=446 count=1 conv=notrunc status=none`);
          rmSync(target);
        },
      },
      {
        name: 'snapclone layout apply',
        fn: async () => {
          const target = blankTarget();
          await runProcess('node', [CLI, 'layout', 'apply', '-q', saved, target]);
          rmSync(target);
        },
      },
    ],
    { baseline: 'seed: sfdisk < dump + dd MBR back', bytesPerRun: 1024 * 1024 },
  );

  await compare(
    'reading the layout (in-process readLayout vs an sfdisk process)',
    [
      { name: 'sfdisk -J', fn: () => runProcess('sfdisk', ['-J', disk]) },
      {
        name: 'readLayout() in-process',
        fn: async () => {
          const f = await SourceFile.open(disk);
          try {
            await readLayout(f);
          } finally {
            await f.close();
          }
        },
      },
    ],
    { baseline: 'sfdisk -J', bytesPerRun: 1024 * 1024 },
  );
  rmSync(dir, { recursive: true, force: true });
}
