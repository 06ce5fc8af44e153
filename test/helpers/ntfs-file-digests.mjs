// The oracle for "the restored disk holds the same files": every file of an NTFS volume, as the real
// ntfs-3g tools read it (ntfsls -R lists, ntfscat reads), with its SHA-256. Works on a partition
// inside a disk image or device (copied out to a scratch file first), without root or FUSE, on the
// host and in the VM harness. Plain .mjs so that VM jobs can run it too.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Copies bytes [startByte, startByte + sizeBytes) of `diskPath` into a new file; returns its path. */
export function extractPartition(diskPath, startByte, sizeBytes, dir) {
  const out = join(dir, `part-${startByte}.ntfs`);
  const src = openSync(diskPath, 'r');
  const dst = openSync(out, 'w');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (let done = 0; done < sizeBytes; ) {
      const n = readSync(src, buf, 0, Math.min(buf.length, sizeBytes - done), startByte + done);
      if (n === 0) throw new Error(`${diskPath} ends at ${startByte + done}, before the partition does`);
      writeSync(dst, buf, 0, n, done);
      done += n;
    }
  } finally {
    closeSync(src);
    closeSync(dst);
  }
  return out;
}

/** { "/path/of/file": sha256 } for every file of the NTFS volume in `volumePath`. */
export function ntfsFileDigests(volumePath) {
  const listing = execFileSync('ntfsls', ['-R', '-F', volumePath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  const digests = {};
  let dir = '/';
  for (const line of listing.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('/') && line.endsWith(':')) {
      dir = line.slice(0, -1);
      if (!dir.endsWith('/')) dir += '/';
      continue;
    }
    if (line.endsWith('/') || line === '.' || line === '..') continue; // directories (and ./)
    const name = line.replace(/[*@|=]$/, '');
    const path = `${dir}${name}`;
    const bytes = execFileSync('ntfscat', [volumePath, path], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 30 });
    digests[path] = createHash('sha256').update(bytes).digest('hex');
  }
  return digests;
}

/** Digests of the NTFS partition at [startByte, +sizeBytes) of a disk image or device. */
export function partitionFileDigests(diskPath, startByte, sizeBytes) {
  const dir = mkdtempSync(join(tmpdir(), 'snapclone-digests-'));
  try {
    return ntfsFileDigests(extractPartition(diskPath, startByte, sizeBytes, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
