// Acceptance against the real ntfsclone on Windows-made volumes (../shared/testdata/windows):
// K1 (4 KiB clusters, free space full of a pattern), K2 (2 MiB clusters, negative
// sectors-per-cluster encoding), K4 (2 KiB clusters, $MFTMirr at LCN 4), each the partition at
// LBA 128 of an MBR disk.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { makeTempDir } from '../helpers/tmp.js';
import { HAVE_NTFSCLONE, haveWindowsVolumes, windowsPartition, WINDOWS_VOLUMES } from '../helpers/ntfs-fixtures.js';
import { checkAgainstNtfsclone } from '../helpers/ntfsclone-oracle.js';

const KEYS = Object.keys(WINDOWS_VOLUMES) as (keyof typeof WINDOWS_VOLUMES)[];

describe.skipIf(!HAVE_NTFSCLONE || !haveWindowsVolumes())('Windows-made volumes: identical with ntfsclone', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-oracle-win-'));
  });
  afterAll(async () => cleanup());

  it.each(KEYS)('%s: save-image and restore-image equal ntfsclone', async (key) => {
    await checkAgainstNtfsclone(await windowsPartition(key), dir, key);
  });
});
