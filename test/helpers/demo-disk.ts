// The bundled demo disk (fixtures/disk/demo-disk.img.gz, made by make-demo-disk.sh with sfdisk, mkntfs
// and ntfs-3g): unpacked sparse for tests, with where its partitions are; and small helpers for
// the backup commands' tests.

import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { open } from 'node:fs/promises';
import { REPO_ROOT, runCommand } from './cli.js';

export const DEMO_DISK_GZ = join(REPO_ROOT, 'fixtures', 'disk', 'demo-disk.img.gz');
export const DEMO_DISK_BYTES = 40 * 1024 * 1024;
/** The NTFS partitions of the demo disk: 1 (primary, bootable) and 5 (logical). */
export const DEMO_PARTITIONS = [
  { number: 1, startByte: 2048 * 512, sizeBytes: 32768 * 512 },
  { number: 5, startByte: 38912 * 512, sizeBytes: 43008 * 512 },
] as const;

/** Unpacks the demo disk into `path` (sparse: all-zero 64 KiB blocks stay holes). */
export async function unpackDemoDisk(path: string): Promise<string> {
  const out = await open(path, 'w');
  let at = 0;
  try {
    for await (const chunk of createReadStream(DEMO_DISK_GZ).pipe(createGunzip({ chunkSize: 64 * 1024 }))) {
      const b = chunk as Buffer;
      if (b.some((x) => x !== 0)) await out.write(b, 0, b.length, at);
      at += b.length;
    }
    await out.truncate(at);
  } finally {
    await out.close();
  }
  return path;
}

/** The `snapclone: error CODE:` of a failed run. */
export function errorCode(stderr: string): string | undefined {
  return /snapclone: error (\w+):/.exec(stderr)?.[1];
}

/** The complete set directories (LABEL-STAMP) in `dest`, sorted. */
export async function setNames(dest: string): Promise<string[]> {
  return (await readdir(dest).catch(() => [] as string[])).filter((n) => /-\d{8}T\d{6}Z$/.test(n)).sort();
}

/** Everything in `dest`, hidden entries included, sorted. */
export async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

export async function sha256sum(path: string): Promise<string> {
  const r = await runCommand('sha256sum', [path]);
  if (r.status !== 0) throw new Error(`sha256sum failed: ${r.stderr}`);
  return r.stdout.toString().split(' ')[0]!;
}

/** `sfdisk -d` without the device lines' paths, for comparing two disks' tables. */
export async function sfdiskDump(path: string): Promise<string> {
  const r = await runCommand('sfdisk', ['-d', path]);
  if (r.status !== 0) throw new Error(`sfdisk -d failed: ${r.stderr}`);
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => !l.startsWith('device:'))
    .map((l) => l.replace(/^\S+?(\d+) :/, 'part$1 :'))
    .join('\n');
}
