// The VM-sized benchmark volume: 1 GiB sparse NTFS with ~330 MB in use (files from /usr/lib,
// random data, two fragmented files), built once with the real mkntfs and an ntfs-3g mount and
// cached under $SNAPCLONE_BENCH_DIR. Used by the ntfsclone and backup suites.

import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR } from './sample-image.js';

export const VOLUME_BYTES = 1024 * 1024 * 1024;

/** The 1 GiB volume, built once. */
export function ensureBenchVolume(): string {
  mkdirSync(BENCH_DIR, { recursive: true });
  const volume = join(BENCH_DIR, 'ntfs-1g.ntfs');
  const done = `${volume}.done`;
  if (existsSync(done)) return volume;
  rmSync(volume, { force: true });
  execFileSync('truncate', ['-s', String(VOLUME_BYTES), volume]);
  execFileSync('mkntfs', ['-F', '-f', '-q', '-L', 'bench1g', volume], { stdio: 'ignore' });
  const mnt = mkdtempSync(join(tmpdir(), 'snapclone-bench-mnt-'));
  execFileSync('ntfs-3g', [volume, mnt]);
  try {
    let budget = 200_000_000;
    const copyTree = (from: string, to: string): void => {
      let names: string[];
      try {
        names = readdirSync(from).sort();
      } catch {
        return;
      }
      mkdirSync(to, { recursive: true });
      for (const name of names) {
        if (budget <= 0) return;
        const src = join(from, name);
        const st = lstatSync(src);
        if (st.isDirectory()) copyTree(src, join(to, name));
        else if (st.isFile() && st.size <= 20_000_000) {
          copyFileSync(src, join(to, name));
          budget -= st.size;
        }
      }
    };
    copyTree('/usr/lib', join(mnt, 'lib'));
    const random = Buffer.alloc(1 << 20);
    for (let i = 0; i < 60; i++) {
      randomFillSync(random);
      writeFileSync(join(mnt, `random-${i}.bin`), random);
    }
    // Two files appended to in turn: fragmented runs.
    const a = openSync(join(mnt, 'frag-a.bin'), 'w');
    const b = openSync(join(mnt, 'frag-b.bin'), 'w');
    for (let i = 0; i < 2000; i++) {
      randomFillSync(random, 0, 8192);
      writeSync(a, random, 0, 8192);
      writeSync(b, random, 0, 8192);
    }
    closeSync(a);
    closeSync(b);
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
  writeFileSync(done, '');
  return volume;
}
