// openImageInput: raw and bzip2 images told apart by their first bytes, and a compressed image's
// final CRCs checked before a restore is finished (the image ends before the bzip2 stream does).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { openImageInput } from '../../src/backup/image-input.js';
import { restoreImage } from '../../src/backup/restore-image.js';
import { prepareSave } from '../../src/backup/save-image.js';
import { compressBuffer } from '../../src/bzip2/index.js';
import { openRestoreTarget } from '../../src/io/restore-target.js';
import { makeTempDir } from '../helpers/tmp.js';
import { fixtureVolume } from '../helpers/ntfs-fixtures.js';

describe('openImageInput', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  let image = new Uint8Array(0);
  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-image-input-'));
    const prepared = await prepareSave(await fixtureVolume('demo'), {});
    const parts: Uint8Array[] = [];
    for await (const c of prepared.stream()) parts.push(c as Uint8Array);
    await prepared.close();
    image = Buffer.concat(parts);
  });
  afterAll(async () => cleanup());

  /** Yields `bytes` with a pause before the last `tailBytes`, as a slow pipe would. */
  const slowly = (bytes: Uint8Array, tailBytes: number): Readable =>
    Readable.from(
      (async function* () {
        yield bytes.subarray(0, bytes.length - tailBytes);
        await sleep(300);
        yield bytes.subarray(bytes.length - tailBytes);
      })(),
      { objectMode: false },
    );

  it('passes a raw image through and detects a compressed one', async () => {
    const raw = await openImageInput(Readable.from([image.subarray(0, 2), image.subarray(2)], { objectMode: false }));
    expect(raw.compressed).toBe(false);
    let n = 0;
    for await (const c of raw.chunks) n += c.byteLength;
    expect(n).toBe(image.length);
    const bz = await openImageInput(Readable.from([compressBuffer(image, { level: 1 })], { objectMode: false }), { threads: 1 });
    expect(bz.compressed).toBe(true);
    let m = 0;
    for await (const c of bz.chunks) m += c.byteLength;
    expect(m).toBe(image.length);
  });

  it('a bad stream CRC after the last cluster stops the restore before the target is finished', async () => {
    // 2 MB follow the image inside the bzip2 stream (ntfsclone ignores bytes after the last
    // cluster), so the image is complete long before the stream CRC is reached.
    const archive = Buffer.from(compressBuffer(Buffer.concat([image, Buffer.alloc(2_000_000, 7)]), { level: 1 }));
    archive[archive.length - 1]! ^= 0x01; // the stream CRC is the last 4 bytes (byte-aligned blocks)

    // Without the final check the image itself is complete and the restore would succeed...
    const unchecked = join(dir, 'unchecked.raw');
    const input1 = await openImageInput(slowly(archive, 1000), { threads: 1 });
    await restoreImage(input1.chunks, await openRestoreTarget(unchecked, { overwrite: false }));
    input1.destroy();
    expect(existsSync(unchecked)).toBe(true);

    // ...so finish() runs before the target is renamed into place, and the CRC error wins.
    const checked = join(dir, 'checked.raw');
    const input2 = await openImageInput(slowly(archive, 1000), { threads: 1 });
    await expect(
      restoreImage(input2.chunks, await openRestoreTarget(checked, { overwrite: false }), {
        beforeFinish: async () => {
          await input2.finish();
        },
      }),
    ).rejects.toMatchObject({ code: 'BZ2_STREAM_CRC' });
    input2.destroy();
    expect(existsSync(checked)).toBe(false);
  });
});
