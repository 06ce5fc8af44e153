// restoreImage on hand-made images in the forms ntfsclone writes only in special modes: a
// --rescue image (clusters first, then a negative gap back to 0), split gaps, and a 10.0 image
// that ends with a gap and no backup boot sector. The real ntfsclone -r is the oracle for the
// file and stdout results; a stream target refuses to move backwards.

import { describe, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createReadStream } from 'node:fs';
import { SnapcloneError } from '../../src/core/errors.js';
import { encodeImageHeader } from '../../src/image/image-header.js';
import { restoreImage } from '../../src/backup/restore-image.js';
import { FileRestoreTarget, StreamRestoreTarget } from '../../src/io/restore-target.js';
import { makeTempDir } from '../helpers/tmp.js';
import { runCommand } from '../helpers/cli.js';
import { HAVE_NTFSCLONE, ntfsclone } from '../helpers/ntfs-fixtures.js';

const CS = 4096;
const NCL = 64;

type Cmd = { next: number } | { gap: number };

/** An image of a 64-cluster volume; NEXT k fills its cluster with byte k+1 (the last one: 512 B). */
function image(cmds: Cmd[], minor = 1): Uint8Array {
  const parts: Uint8Array[] = [encodeImageHeader({ cluster_size: CS, device_size: NCL * CS + 512, nr_clusters: NCL, inuse: 0 })];
  parts[0]![17] = minor;
  for (const c of cmds) {
    if ('next' in c) parts.push(Uint8Array.of(1), new Uint8Array(c.next === NCL ? 512 : CS).fill(c.next + 1));
    else {
      const g = new Uint8Array(9);
      new DataView(g.buffer).setBigInt64(1, BigInt(c.gap), true);
      parts.push(g);
    }
  }
  return Buffer.concat(parts);
}

async function restoreToStream(img: Uint8Array): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await restoreImage([img], new StreamRestoreTarget(out));
  out.end();
  return Buffer.concat(chunks);
}

const normal = image([{ next: 0 }, { next: 1 }, { gap: 3 }, { next: 5 }, { gap: 58 }, { next: NCL }]);
const rescue = image([{ gap: 5 }, { next: 5 }, { gap: -6 }, { next: 0 }, { next: 1 }, { gap: 1 }, { gap: 2 }, { next: 5 }, { gap: 40 }, { gap: 18 }, { next: NCL }]);
const v10 = image([{ next: 0 }, { next: 1 }, { gap: 3 }, { next: 5 }, { gap: 58 }], 0);

describe('restoreImage on special image forms', () => {
  it('restores a --rescue image (negative and split gaps) to a file like the plain image', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const a = join(dir, 'a.raw');
      const b = join(dir, 'b.raw');
      for (const [img, path] of [[normal, a], [rescue, b]] as const) {
        const t = new FileRestoreTarget(path, false);
        await t.prepare();
        await restoreImage([img.subarray(0, 100), img.subarray(100)], t);
      }
      expect(await readFile(b)).toEqual(await readFile(a));
      expect((await stat(a)).size).toBe(NCL * CS + 512);
      if (HAVE_NTFSCLONE) {
        const imgPath = join(dir, 'rescue.img');
        await writeFile(imgPath, rescue);
        const theirs = join(dir, 'theirs.raw');
        expect((await ntfsclone(['-q', '-r', '-O', theirs, imgPath])).status).toBe(0);
        expect((await runCommand('cmp', [theirs, b])).status).toBe(0);
      }
    } finally {
      await cleanup();
    }
  });

  it('refuses to stream an image that moves backwards', async () => {
    await expect(restoreToStream(rescue)).rejects.toSatisfy((e: unknown) => e instanceof SnapcloneError && e.code === 'IMG_NOT_SEQUENTIAL');
    const plain = await restoreToStream(normal);
    expect(plain.byteLength).toBe(NCL * CS + 512);
    expect(plain[5 * CS]).toBe(6);
    expect(plain[3 * CS]).toBe(0);
  });

  it.skipIf(!HAVE_NTFSCLONE)('writes a 10.0 image (trailing gap, no backup boot sector) as ntfsclone -r does', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const imgPath = join(dir, 'v10.img');
      await writeFile(imgPath, v10);
      // To a file: the file ends with the last cluster written (the trailing gap adds nothing).
      const ours = join(dir, 'ours.raw');
      const t = new FileRestoreTarget(ours, false);
      await t.prepare();
      const summary = await restoreImage(createReadStream(imgPath), t);
      expect(summary.noBackupBootSector).toBe(true);
      const theirs = join(dir, 'theirs.raw');
      expect((await ntfsclone(['-q', '-r', '-O', theirs, imgPath])).status).toBe(0);
      expect((await stat(ours)).size).toBe((await stat(theirs)).size);
      expect((await runCommand('cmp', [theirs, ours])).status).toBe(0);
      // To stdout: the trailing gap is written as zeros.
      const stream = await restoreToStream(v10);
      const ref = await runCommand('ntfsclone', ['-q', '-r', '-o', '-', imgPath]);
      expect(ref.status).toBe(0);
      expect(Buffer.compare(stream, ref.stdout)).toBe(0);
    } finally {
      await cleanup();
    }
  });
});
