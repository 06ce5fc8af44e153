// `snapclone demo` (npm start) on a machine without ntfs-3g, LVM or root: it must back up the bundled
// demo disk, verify the set, restore it and check the result with snapclone alone; and the set it
// writes must be what the real tools read: bzip2 decompresses each image to what ntfsclone saves.

import { describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runCli, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { HAVE_NTFSCLONE } from '../helpers/ntfs-fixtures.js';
import { DEMO_PARTITIONS } from '../helpers/demo-disk.js';
import { extractPartition } from '../helpers/ntfs-file-digests.mjs';

describe('snapclone demo', () => {
  it('backs up, verifies and restores the bundled disk with no ntfs-3g, LVM or coreutils on the PATH', async () => {
    const { dir, cleanup } = await makeTempDir('snapclone-demo-');
    try {
      const scratch = join(dir, 'scratch');
      const dest = join(dir, 'backups');
      // Only node's own directory on the PATH: no ntfsclone, no ntfs-3g, no lvm, no coreutils.
      const r = await runCli(['demo', '--scratch', scratch, '--dest', dest, '-q'], { env: { PATH: dirname(process.execPath) } });
      expect(r.status, r.stderr).toBe(0);
      const out = r.stdout.toString();
      expect(out).toContain('partition table identical (dos, 3 entries, boot code and 1024 KiB of boot area)');
      expect(out).toMatch(/partition 1: all \d+ used clusters equal; re-saved image identical/);
      expect(out).toMatch(/partition 5: all \d+ used clusters equal; re-saved image identical/);
      expect(out).toMatch(/verify +\d+ checks passed/);
      const sets = await readdir(dest);
      expect(sets).toHaveLength(1);
      expect(sets[0]).toMatch(/^vm-disk-\d{8}T\d{6}Z$/);
      const set = join(dest, sets[0]!);
      expect((await runCli(['verify', set, '-q'])).status).toBe(0);
      if (HAVE_NTFSCLONE) {
        for (const p of DEMO_PARTITIONS) {
          const part = extractPartition(join(scratch, 'vm-disk.img'), p.startByte, p.sizeBytes, dir);
          const cmp = await runCommand('bash', ['-o', 'pipefail', '-c', `cmp <(bunzip2 -c '${set}/p${p.number}.ntfsclone.img.bz2') <(ntfsclone -q -s -o - '${part}')`]);
          expect(cmp.status, cmp.stdout.toString()).toBe(0);
        }
      }
    } finally {
      await cleanup();
    }
  });
});
