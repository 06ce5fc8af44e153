// The benchmark input: a ~24 MB ntfsclone image of a 64 MiB NTFS volume holding realistic content
// (documentation text, program binaries and libraries, some random data, some zeros), made with the
// real mkntfs, an ntfs-3g mount and ntfsclone. Cached under $SNAPCLONE_BENCH_DIR (default /tmp).

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomFillSync } from 'node:crypto';

export const BENCH_DIR = process.env['SNAPCLONE_BENCH_DIR'] ?? join(tmpdir(), 'snapclone-bench');

export interface SampleImage {
  /** The NTFS volume (64 MiB file). */
  volumePath: string;
  /** `ntfsclone --save-image` of it. */
  imagePath: string;
  imageBytes: number;
}

/** Builds the sample volume and image once; later calls reuse them. Needs root, FUSE and ntfs-3g. */
export function ensureSampleImage(): SampleImage {
  mkdirSync(BENCH_DIR, { recursive: true });
  const volumePath = join(BENCH_DIR, 'sample-volume.ntfs');
  const imagePath = join(BENCH_DIR, 'sample-volume.ntfsclone.img');
  if (!existsSync(imagePath)) {
    rmSync(volumePath, { force: true });
    execFileSync('truncate', ['-s', '64M', volumePath]);
    execFileSync('mkntfs', ['-F', '-f', '-q', '-L', 'bench', volumePath], { stdio: 'ignore' });
    const mnt = mkdtempSync(join(tmpdir(), 'snapclone-bench-mnt-'));
    execFileSync('ntfs-3g', [volumePath, mnt]);
    try {
      // ~7 MB of text, ~7 MB of binaries, 2 MB random, 1 MB zeros: disk images mix all of these.
      copyWithBudget('/usr/share/doc', join(mnt, 'doc'), 6_800_000, 200_000);
      copyWithBudget('/usr/bin', join(mnt, 'bin'), 6_800_000, 2_000_000);
      const random = Buffer.alloc(2_000_000);
      randomFillSync(random);
      writeFileSync(join(mnt, 'random.bin'), random);
      writeFileSync(join(mnt, 'zeros.bin'), Buffer.alloc(1_000_000));
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
    execFileSync('ntfsclone', ['-q', '--save-image', '-O', imagePath, volumePath], { stdio: 'ignore' });
  }
  return { volumePath, imagePath, imageBytes: statSync(imagePath).size };
}

/** Copies regular files under `from` (sorted, depth first) into `to` until `budgetBytes` is used. */
function copyWithBudget(from: string, to: string, budgetBytes: number, maxFileBytes: number): number {
  let left = budgetBytes;
  const walk = (dir: string, out: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    mkdirSync(out, { recursive: true });
    for (const name of names) {
      if (left <= 0) return;
      const src = join(dir, name);
      const st = lstatSync(src);
      if (st.isDirectory()) walk(src, join(out, name));
      else if (st.isFile() && st.size <= maxFileBytes && st.size <= left) {
        copyFileSync(src, join(out, name));
        left -= st.size;
      }
    }
  };
  walk(from, to);
  return budgetBytes - left;
}

if (process.argv[1]?.endsWith('sample-image.js')) {
  const s = ensureSampleImage();
  console.log(`${s.imagePath}: ${s.imageBytes} bytes (volume ${s.volumePath})`);
}
