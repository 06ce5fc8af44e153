// SOURCE spellings (pure parsing) and resolution on this host. Resolution of real LVs in every
// spelling is tested on real LVM in test/e2e/lvm.test.ts.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseSourceSpec, resolveSource } from '../../src/lvm/source.js';
import { Lvm } from '../../src/lvm/lvm.js';

describe('parseSourceSpec', () => {
  it.each([
    ['/dev/vg0/web', 'vg0', 'web'],
    ['/dev/vm-disks/win-xp', 'vm-disks', 'win-xp'],
    ['/dev/mapper/vm--disks-win--xp', 'vm-disks', 'win-xp'],
    ['/dev/mapper/vg0-web', 'vg0', 'web'],
    ['vg0/web', 'vg0', 'web'],
    ['vm-disks/win-xp', 'vm-disks', 'win-xp'],
  ])('%s names LV %s/%s', (text, vg, lv) => {
    expect(parseSourceSpec(text)).toEqual({ kind: 'lv', vg, lv });
  });

  it.each(['/dev/sda1', '/dev/dm-3', '/dev/disk/by-id/dm-name-vg0-web', '/srv/disk.img'])('%s is left to the file system', (text) => {
    expect(parseSourceSpec(text)).toEqual({ kind: 'path', path: text });
  });

  it.each(['web', 'vg0/web/x', 'vg0/', '/dev/mapper/novgname', '/dev/mapper/vg0-web-real', 'vg 0/web', '-vg/web', 'vg0/snapshot1'])(
    '%s is refused with LVM_NOT_AN_LV',
    (text) => {
      expect(() => parseSourceSpec(text)).toThrow(expect.objectContaining({ code: 'LVM_NOT_AN_LV', kind: 'usage' }));
    },
  );
});

describe('resolveSource on this host', () => {
  const lvm = new Lvm();
  const hostHasDm = spawnSync('dmsetup', ['version']).status === 0;

  it('refuses a regular file and a block device that is not device-mapper', async () => {
    await expect(resolveSource('/etc/hostname', lvm)).rejects.toMatchObject({ code: 'LVM_NOT_AN_LV' });
    await expect(resolveSource('/dev/null', lvm)).rejects.toMatchObject({ code: 'LVM_NOT_AN_LV' });
    await expect(resolveSource('/nonexistent/device', lvm)).rejects.toMatchObject({ code: 'LVM_NOT_AN_LV' });
  });

  it('says a missing LV is not an LV, or that LVM cannot work here when the kernel has no device-mapper', async () => {
    const expected = hostHasDm ? 'LVM_NOT_AN_LV' : 'LVM_NO_DEVICE_MAPPER';
    await expect(resolveSource('snapclone-test-no-such-vg/lv', lvm)).rejects.toMatchObject({ code: expected });
  });
});
