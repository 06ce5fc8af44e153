// /proc/self/mountinfo parsing: octal escapes in paths, read-only from either option field.

import { describe, expect, it } from 'vitest';
import { parseMountInfo } from '../../src/io/mount-check.js';

describe('parseMountInfo', () => {
  it('reads mount point, source, type and read-only state', () => {
    const text = [
      '36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - ext4 /dev/sdb1 rw,errors=continue',
      '40 35 0:52 / /mnt/ntfs ro,relatime shared:9 - fuseblk /tmp/vol\\040a.img rw,user_id=0',
      '41 35 0:53 / /mnt/x rw,relatime - fuse /tmp/v.img ro,user_id=0',
      'garbage line',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { majorMinor: '98:0', mountPoint: '/mnt/with space', fsType: 'ext4', source: '/dev/sdb1', readOnly: false },
      { majorMinor: '0:52', mountPoint: '/mnt/ntfs', fsType: 'fuseblk', source: '/tmp/vol a.img', readOnly: true },
      { majorMinor: '0:53', mountPoint: '/mnt/x', fsType: 'fuse', source: '/tmp/v.img', readOnly: true },
    ]);
  });
});
