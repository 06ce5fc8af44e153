// A small ntfsclone image made with the real tools (mkntfs, ntfscp, ntfsclone --save-image), the
// kind of input snapclone compresses: NTFS metadata, text, machine code, random data and zeros.
// Built once per machine under the OS temp dir (no FUSE mount needed: ntfscp writes directly).

import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, textBytes } from './inputs.js';

const VERSION = 'v1';

/** Path of the image (about 6 MB), building it first if needed. */
export function ensureTestNtfsImage(): string {
  const dir = join(tmpdir(), `snapclone-bzenc-ntfs-${VERSION}`);
  const image = join(dir, 'test-volume.ntfsclone.img');
  if (existsSync(image)) return image;
  mkdirSync(dir, { recursive: true });
  const work = join(dir, `build-${process.pid}-${Date.now()}`);
  mkdirSync(work);
  try {
    const volume = join(work, 'volume.ntfs');
    execFileSync('truncate', ['-s', '16M', volume]);
    execFileSync('mkntfs', ['-F', '-f', '-q', '-L', 'bzenc', volume], { stdio: 'ignore' });
    const text = textBytes(1_500_000, 11);
    const files: [string, Uint8Array][] = [
      ['notes.txt', text],
      ['copy-of-notes.txt', text],
      ['program.bin', sliceOfFile(process.execPath, 4_000_000, 2_000_000)],
      ['random.bin', randomBytes(262_144, 12)],
      ['zeros.bin', new Uint8Array(524_288)],
    ];
    for (const [name, bytes] of files) {
      const src = join(work, name);
      writeFileSync(src, bytes);
      execFileSync('ntfscp', ['-f', volume, src, `/${name}`], { stdio: 'ignore' });
    }
    const out = join(work, 'image');
    execFileSync('ntfsclone', ['-q', '-f', '--save-image', '-o', out, volume], { stdio: 'ignore' });
    renameSync(out, image);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return image;
}

export function readTestNtfsImage(): Buffer {
  return readFileSync(ensureTestNtfsImage());
}

function sliceOfFile(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(length);
    const n = readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
