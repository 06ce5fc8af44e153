// Test volumes: the generated fixtures (fixtures/ntfs/*.img.gz, made by make-ntfs-fixtures.sh) and
// the partitions of the Windows-made disks in ../shared/testdata/windows, unpacked sparse into a
// temporary directory. Also runs the real ntfsclone, the oracle.

import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT, runCommand, type RunResult } from './cli.js';
import { testdataPath } from './testdata.js';

export const FIXTURE_DIR = join(REPO_ROOT, 'fixtures', 'ntfs');

/** The generated volumes, by name (see fixtures/make-ntfs-fixtures.sh). */
export const GENERATED_VOLUMES = ['c512', 'c4k-many', 'c64k', 'c2m', 's4096', 'smaller', 'demo'] as const;

/** Windows-made disks: file in testdata/windows and the partition to image. */
export const WINDOWS_VOLUMES = {
  K1: 'msuhanov_ntfs-lastaccess.raw.gz',
  K2: 'msuhanov_ntfs-2m.raw.gz',
  K4: 'dfirntfs_ntfs_index.raw.gz',
} as const;

function which(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const HAVE_NTFSCLONE = which('ntfsclone');
if (!HAVE_NTFSCLONE) console.warn('\n*** ntfsclone is missing (apt-get install ntfs-3g): oracle tests are SKIPPED ***\n');

const BLOCK = 64 * 1024;

/**
 * Writes the bytes [startByte, startByte + lengthBytes) of a gzip stream to `outPath`, leaving
 * all-zero 64 KiB blocks as holes. Returns the bytes written (the file's length).
 */
async function gunzipRangeSparse(gzPath: string, outPath: string, startByte = 0, lengthBytes = Infinity): Promise<number> {
  const out = await open(outPath, 'w');
  let pos = 0; // position in the decompressed stream
  let written = 0;
  const pending = new Uint8Array(BLOCK);
  let fill = 0;
  let blockStart = 0; // output offset of pending[0]
  const flush = async (): Promise<void> => {
    let zero = true;
    for (let i = 0; i < fill; i++) if (pending[i] !== 0) { zero = false; break; }
    if (!zero) await out.write(pending, 0, fill, blockStart);
    blockStart += fill;
    fill = 0;
  };
  try {
    for await (const chunk of createReadStream(gzPath).pipe(createGunzip())) {
      const buf = chunk as Buffer;
      let from = Math.max(0, startByte - pos);
      const to = Math.min(buf.length, startByte + lengthBytes - pos);
      pos += buf.length;
      while (from < to) {
        const take = Math.min(to - from, BLOCK - fill);
        pending.set(buf.subarray(from, from + take), fill);
        fill += take;
        from += take;
        written += take;
        if (fill === BLOCK) await flush();
      }
      if (pos >= startByte + lengthBytes) break;
    }
    await flush();
    await out.truncate(written);
  } finally {
    await out.close();
  }
  return written;
}

/**
 * Unpacked volumes are cached (read-only by convention) in a per-user temporary folder, keyed by
 * the compressed file's size and mtime: the Windows disks take seconds to inflate, and several
 * test files use them. Tests that modify a volume copy it first (copyVolume).
 */
const CACHE_DIR = join(tmpdir(), `snapclone-test-volumes-${process.getuid?.() ?? 0}`);

async function cached(key: string, gzPath: string, make: (out: string) => Promise<void>): Promise<string> {
  const st = statSync(gzPath);
  const path = join(CACHE_DIR, `${key}-${st.size}-${Math.floor(st.mtimeMs)}`);
  if (existsSync(path)) return path;
  mkdirSync(CACHE_DIR, { recursive: true });
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await make(temporary);
  await rename(temporary, path);
  return path;
}

/** Generated volume `name`, unpacked (cached: do not modify; see copyVolume). */
export async function fixtureVolume(name: string): Promise<string> {
  const gz = join(FIXTURE_DIR, `${name}.img.gz`);
  return cached(name, gz, async (out) => {
    await gunzipRangeSparse(gz, out);
  });
}

/** A private, writable, sparse copy of a volume in `dir`. */
export async function copyVolume(path: string, dir: string, name: string): Promise<string> {
  const out = join(dir, name);
  const r = await runCommand('cp', ['--sparse=always', path, out]);
  if (r.status !== 0) throw new Error(`cp failed: ${r.stderr}`);
  return out;
}

/** Unpacks generated volume `name` into `dir` (a writable copy); returns its path. */
export async function unpackFixture(name: string, dir: string): Promise<string> {
  return copyVolume(await fixtureVolume(name), dir, `${name}.img`);
}

/** Reads the first MBR partition of a gzip'd disk: its start and size in bytes. */
async function firstPartition(gzPath: string): Promise<{ startByte: number; sizeBytes: number }> {
  for await (const chunk of createReadStream(gzPath).pipe(createGunzip())) {
    const b = chunk as Buffer;
    if (b.length < 512) throw new Error('short first chunk');
    return { startByte: b.readUInt32LE(446 + 8) * 512, sizeBytes: b.readUInt32LE(446 + 12) * 512 };
  }
  throw new Error(`${gzPath} is empty`);
}

/** The NTFS partition of Windows disk `key` (K1, K2, K4), extracted (cached: do not modify). */
export async function windowsPartition(key: keyof typeof WINDOWS_VOLUMES): Promise<string> {
  const gz = testdataPath('windows', WINDOWS_VOLUMES[key]);
  return cached(`${key}.part`, gz, async (out) => {
    const { startByte, sizeBytes } = await firstPartition(gz);
    await gunzipRangeSparse(gz, out, startByte, sizeBytes);
  });
}

/** Unpacks a Windows disk whole (MBR + partition) into `dir`. */
export async function unpackWindowsDisk(key: keyof typeof WINDOWS_VOLUMES, dir: string): Promise<string> {
  const path = join(dir, `${key}.disk`);
  await gunzipRangeSparse(testdataPath('windows', WINDOWS_VOLUMES[key]), path);
  return path;
}

export function haveWindowsVolumes(): boolean {
  return Object.values(WINDOWS_VOLUMES).every((f) => existsSync(testdataPath('windows', f)));
}

/** Runs the real ntfsclone. */
export function ntfsclone(args: string[], options: { input?: Uint8Array } = {}): Promise<RunResult> {
  return runCommand('ntfsclone', args, options);
}
