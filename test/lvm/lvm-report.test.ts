// lvs/vgs JSON reports: real output captured in the VM (fixtures/lvm/capture-reports.sh), and
// damaged reports that must fail with LVM_BAD_REPORT.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lvDmUuid, parseLvReport, parseVgReport } from '../../src/lvm/lvm-report.js';
import { REPO_ROOT } from '../helpers/cli.js';

const fixture = (name: string): string => readFileSync(join(REPO_ROOT, 'fixtures', 'lvm', name), 'utf8');
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('parseLvReport on real lvs output', () => {
  it('reads a snapshot, its origin and a plain LV', () => {
    const lvs = parseLvReport(fixture('lvs-snapshot.json'));
    expect(lvs.map((l) => l.name)).toEqual(['other', 'snapclone-win-xp-20261126T103555Z', 'win-xp']);
    const [other, snap, origin] = lvs as [typeof lvs[0], typeof lvs[0], typeof lvs[0]];
    expect(snap).toMatchObject({
      vgName: 'vm-disks',
      sizeBytes: 8 * 1024 * 1024,
      origin: 'win-xp',
      snapPercent: 25.2,
      tags: ['snapclone', 'snapclone-origin-vm--disks-win--xp'],
      path: '/dev/vm-disks/snapclone-win-xp-20261126T103555Z',
      dmPath: '/dev/mapper/vm--disks-snapclone--win--xp--20261126T103555Z',
      isSnapshot: true,
      isInvalidSnapshot: false,
      isActive: true,
      isOpen: false,
    });
    expect(origin).toMatchObject({ sizeBytes: 64 * 1024 * 1024, origin: undefined, snapPercent: undefined, tags: [], isSnapshot: false, attr: 'owi-a-s---' });
    expect(other.createdAt).toBe('2026-11-26 10:40:18 +0000');
  });

  it('sees an overflowed snapshot as invalid at 100%', () => {
    const snap = parseLvReport(fixture('lvs-invalid-snapshot.json')).find((l) => l.isSnapshot);
    expect(snap).toMatchObject({ snapPercent: 100, isInvalidSnapshot: true, attr: 'swi-I-s---' });
  });

  it('reads what lvs printed before exiting 5 for a missing name', () => {
    expect(fixture('lvs-partial.status.txt').trim()).toBe('5');
    expect(parseLvReport(fixture('lvs-partial.json')).map((l) => l.name)).toEqual(['win-xp']);
  });

  it('selects by tag', () => {
    expect(parseLvReport(fixture('lvs-by-tag.json')).map((l) => l.name)).toEqual(['snapclone-win-xp-20261126T103555Z']);
  });

  it('builds the device-mapper UUID that dmsetup shows for the LV', () => {
    const snap = parseLvReport(fixture('lvs-snapshot.json')).find((l) => l.isSnapshot)!;
    const dmUuids = fixture('dmsetup-info-kpartx.txt').match(/DM_UUID='[^']*'/g)!.map((m) => m.slice(9, -1));
    expect(dmUuids).toContain(lvDmUuid(snap));
  });
});

describe('parseVgReport on real vgs output', () => {
  it('reads sizes, free space and the extent size in bytes', () => {
    expect(parseVgReport(fixture('vgs-one.json'))).toEqual([
      { name: 'vm-disks', sizeBytes: 205520896, freeBytes: 130023424, extentSizeBytes: 4194304, freeExtents: 31, uuid: 'p8J2So-igsP-TSyh-llWk-6Uaa-bjFk-aJnzIn' },
    ]);
  });
});

describe('damaged reports', () => {
  const good = JSON.parse(fixture('lvs-snapshot.json')) as { report: { lv: Record<string, string>[] }[] };
  const withRow = (patch: Record<string, unknown>): string => {
    const doc = structuredClone(good);
    Object.assign(doc.report[0]!.lv[0]!, patch);
    return JSON.stringify(doc);
  };

  it.each([
    ['not JSON', () => parseLvReport('  Volume group "x" not found')],
    ['no report array', () => parseLvReport('{"lv": []}')],
    ['rows not an array', () => parseLvReport('{"report": [{"lv": {}}]}')],
    ['a row not an object', () => parseLvReport('{"report": [{"lv": [42]}]}')],
    ['a missing field', () => parseLvReport(withRow({ lv_size: undefined }))],
    ['a size with a unit suffix', () => parseLvReport(withRow({ lv_size: '64.00m' }))],
    ['a negative size', () => parseLvReport(withRow({ lv_size: '-1' }))],
    ['a size beyond 2^53', () => parseLvReport(withRow({ lv_size: '99999999999999999' }))],
    ['a percentage above 100', () => parseLvReport(withRow({ snap_percent: '100.5' }))],
    ['a percentage that is not a number', () => parseLvReport(withRow({ snap_percent: 'n/a' }))],
    ['a short lv_attr', () => parseLvReport(withRow({ lv_attr: 'swi-a' }))],
    ['a name outside the LVM charset', () => parseLvReport(withRow({ lv_name: 'a b' }))],
    ['a number instead of a string', () => parseLvReport(withRow({ lv_size: 67108864 }))],
    ['a zero extent size', () => parseVgReport(fixture('vgs-one.json').replace('"4194304"', '"0"'))],
  ])('%s: LVM_BAD_REPORT', (_name, fn) => {
    expect(code(fn)).toBe('LVM_BAD_REPORT');
  });

  it('ignores sections without rows of the kind asked for (a command log section)', () => {
    expect(parseLvReport('{"report": [{"lv": []}], "log": [{"log_type": "status"}]}')).toEqual([]);
    expect(parseLvReport('{"report": [{"log": []}, {"lv": []}]}')).toEqual([]);
  });
});
