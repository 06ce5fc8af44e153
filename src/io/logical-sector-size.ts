// A block device's logical sector size, from sysfs (queue/logical_block_size), for reading dos labels,
// which do not record their sector size. Regular files have none: the caller decides (512 by default).

import { readFile, stat } from 'node:fs/promises';

/** The logical block size of the block device at `path`, or undefined for files and when sysfs is absent. */
export async function logicalSectorSize(path: string): Promise<number | undefined> {
  let rdev: number;
  try {
    const st = await stat(path);
    if (!st.isBlockDevice()) return undefined;
    rdev = st.rdev;
  } catch {
    return undefined;
  }
  // Linux dev_t: major in bits 8-19, minor in bits 0-7 and 20-31.
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00) >>> 0);
  // Whole disks and device-mapper devices have queue/; a partition's queue is its parent's.
  for (const rel of ['queue/logical_block_size', '../queue/logical_block_size']) {
    try {
      const n = Number((await readFile(`/sys/dev/block/${major}:${minor}/${rel}`, 'utf8')).trim());
      if (Number.isSafeInteger(n) && n >= 512) return n;
    } catch {
      // try the next place
    }
  }
  return undefined;
}
