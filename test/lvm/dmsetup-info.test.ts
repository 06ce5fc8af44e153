// `dmsetup info -c --nameprefixes` output: real captures from the VM and damaged lines.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDmsetupInfo } from '../../src/lvm/dmsetup-info.js';
import { mappingsOf } from '../../src/lvm/dm-mappings.js';
import { parseLvReport } from '../../src/lvm/lvm-report.js';
import { REPO_ROOT } from '../helpers/cli.js';

const fixture = (name: string): string => readFileSync(join(REPO_ROOT, 'fixtures', 'lvm', name), 'utf8');

describe('parseDmsetupInfo', () => {
  it('reads every device with its UUID, open count and numbers', () => {
    const devices = parseDmsetupInfo(fixture('dmsetup-info-kpartx.txt'));
    expect(devices).toHaveLength(6);
    expect(devices[3]).toEqual({
      name: 'vm--disks-snapclone--win--xp--20261126T103555Z1',
      uuid: 'part1-LVM-p8J2SoigsPTSyhllWk6UaabjFkaJnzInh5uxwpH5wv4btYTjse4PpQ8L8dm6Sq1T',
      openCount: 0,
      major: 254,
      minor: 5,
    });
    expect(devices.find((d) => d.name.endsWith('-real'))?.openCount).toBe(2);
  });

  it('reads "No devices found" as no devices', () => {
    expect(fixture('dmsetup-info-empty.txt').trim()).toBe('No devices found');
    expect(parseDmsetupInfo(fixture('dmsetup-info-empty.txt'))).toEqual([]);
  });

  it('undoes backslash escapes inside values', () => {
    const [d] = parseDmsetupInfo("DM_NAME='it\\'s':DM_UUID='':DM_OPEN='0':DM_MAJOR='254':DM_MINOR='9'\n");
    expect(d?.name).toBe("it's");
    expect(d?.uuid).toBe('');
  });

  it.each([
    ['a line without fields', 'vg-lv 254:0'],
    ['an unterminated value', "DM_NAME='vg-lv:DM_UUID=''"],
    ['a missing name', "DM_UUID='x':DM_OPEN='0':DM_MAJOR='254':DM_MINOR='0'"],
    ['a non-numeric open count', "DM_NAME='a':DM_UUID='':DM_OPEN='x':DM_MAJOR='254':DM_MINOR='0'"],
    ['garbage between fields', "DM_NAME='a' DM_UUID='':DM_OPEN='0':DM_MAJOR='254':DM_MINOR='0'"],
  ])('%s: LVM_BAD_REPORT', (_name, line) => {
    expect(() => parseDmsetupInfo(line)).toThrow(expect.objectContaining({ code: 'LVM_BAD_REPORT' }));
  });
});

describe('mappingsOf', () => {
  const snap = parseLvReport(fixture('lvs-snapshot.json')).find((l) => l.isSnapshot)!;
  const origin = parseLvReport(fixture('lvs-snapshot.json')).find((l) => l.name === 'win-xp')!;
  const devices = parseDmsetupInfo(fixture('dmsetup-info-kpartx.txt'));

  it("finds the kpartx map of the snapshot by kpartx's UUID scheme", () => {
    expect(mappingsOf(snap, devices).map((d) => d.name)).toEqual(['vm--disks-snapclone--win--xp--20261126T103555Z1']);
  });

  it("does not take the snapshot's own layers or another LV's devices for maps", () => {
    expect(mappingsOf(origin, devices)).toEqual([]);
  });

  it('finds maps without a UUID by name ("p" delimiter or none), never LVM devices', () => {
    const base = 'vm--disks-snapclone--win--xp--20261126T103555Z';
    const extra = [
      { name: `${base}p2`, uuid: '', openCount: 0, major: 254, minor: 20 },
      { name: `${base}-cow2`, uuid: '', openCount: 0, major: 254, minor: 21 },
      { name: `${base}3`, uuid: 'LVM-something', openCount: 0, major: 254, minor: 22 },
    ];
    expect(mappingsOf(snap, [...devices, ...extra]).map((d) => d.name)).toEqual([`${base}1`, `${base}p2`]);
  });
});
