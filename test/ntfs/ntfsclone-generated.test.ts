// Acceptance against the real ntfsclone on every volume made by fixtures/make-ntfs-fixtures.sh:
// clusters of 512 B to 2 MiB, 4096-byte sectors, device sizes that are not multiples of the
// cluster size or of 512, thousands of files, a fragmented $MFT, $ATTRIBUTE_LIST, a volume
// formatted smaller than its file.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { makeTempDir } from '../helpers/tmp.js';
import { fixtureVolume, GENERATED_VOLUMES, HAVE_NTFSCLONE } from '../helpers/ntfs-fixtures.js';
import { checkAgainstNtfsclone } from '../helpers/ntfsclone-oracle.js';

describe.skipIf(!HAVE_NTFSCLONE)('generated volumes: identical with ntfsclone', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('snapclone-oracle-'));
  });
  afterAll(async () => cleanup());

  it.each([...GENERATED_VOLUMES])('%s: save-image and restore-image equal ntfsclone', async (name) => {
    await checkAgainstNtfsclone(await fixtureVolume(name), dir, name);
  });
});
