// `snapclone demo` (npm start) on a machine without ntfs-3g: it must save, restore and verify the
// bundled volume with snapclone alone; and its image must be what the real ntfsclone writes.

import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { runCli, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { fixtureVolume, HAVE_NTFSCLONE, ntfsclone } from '../helpers/ntfs-fixtures.js';

describe('snapclone demo', () => {
  it('saves, restores and verifies the bundled volume with no ntfs-3g on the PATH', async () => {
    const { dir, cleanup } = await makeTempDir('snapclone-demo-');
    try {
      const scratch = join(dir, 'scratch');
      // Only node's own directory on the PATH: no ntfsclone, no ntfs-3g, no coreutils.
      const r = await runCli(['demo', '--scratch', scratch, '-q'], { env: { PATH: dirname(process.execPath) } });
      expect(r.status, r.stderr).toBe(0);
      const out = r.stdout.toString();
      expect(out).toContain('all equal');
      expect(out).toContain('re-saved image identical');
      if (HAVE_NTFSCLONE) {
        const ref = join(dir, 'ref.img');
        expect((await ntfsclone(['-q', '--save-image', '-O', ref, await fixtureVolume('demo')])).status).toBe(0);
        expect((await runCommand('cmp', [ref, join(scratch, 'demo-volume.img')])).status).toBe(0);
      }
    } finally {
      await cleanup();
    }
  });
});
