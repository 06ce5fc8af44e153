// prepareSaveFrom on a ReadAt: a partition read in place inside a whole Windows disk image
// (SliceReadAt at LBA 128) saves exactly what ntfsclone saves from the extracted partition.

import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SliceReadAt } from '../../src/core/read-at.js';
import { SourceFile } from '../../src/io/source-file.js';
import { prepareSaveFrom } from '../../src/backup/save-image.js';
import { makeTempDir } from '../helpers/tmp.js';
import { HAVE_NTFSCLONE, haveWindowsVolumes, ntfsclone, unpackWindowsDisk, windowsPartition } from '../helpers/ntfs-fixtures.js';

describe.skipIf(!HAVE_NTFSCLONE || !haveWindowsVolumes())('prepareSaveFrom', () => {
  it('saves K4 read through a SliceReadAt inside the whole disk, identical with ntfsclone', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const disk = await SourceFile.open(await unpackWindowsDisk('K4', dir));
      const mbr = new Uint8Array(512);
      await disk.readAt(mbr, 0);
      const view = new DataView(mbr.buffer);
      const startByte = view.getUint32(446 + 8, true) * 512;
      const sizeBytes = view.getUint32(446 + 12, true) * 512;
      expect(startByte).toBe(128 * 512);
      const prepared = await prepareSaveFrom(new SliceReadAt(disk, startByte, sizeBytes), 'K4 partition 1', { close: () => disk.close() });
      const parts: Uint8Array[] = [];
      for await (const c of prepared.chunks()) parts.push(c);
      await prepared.close();
      const ours = Buffer.concat(parts);
      expect(ours.byteLength).toBe(prepared.imageBytes);
      const ref = join(dir, 'ref.img');
      expect((await ntfsclone(['-q', '--save-image', '-O', ref, await windowsPartition('K4')])).status).toBe(0);
      expect(Buffer.compare(ours, await readFile(ref))).toBe(0);
    } finally {
      await cleanup();
    }
  });
});
