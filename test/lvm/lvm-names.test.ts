// LVM names, device-mapper names and snapclone's snapshot names and tags. `dmsetup splitname` (pure
// string work in libdevmapper, so it runs without a device-mapper kernel) is the oracle for splitting.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  dmName,
  isPortableTag,
  lvNameProblem,
  originTag,
  parseOriginTag,
  snapshotName,
  splitDmName,
  utcStamp,
  vgNameProblem,
} from '../../src/lvm/lvm-names.js';

/** libdevmapper's own split of `name` into VG, LV and layer. */
function dmsetupSplit(name: string): { vg: string; lv: string; layer: string } {
  const r = spawnSync('dmsetup', ['splitname', '-c', '--noheadings', '--separator', '|', '--', name, 'LVM'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dmsetup splitname ${name}: ${r.stderr}`);
  const [vg, lv, layer] = r.stdout.trim().split('|');
  return { vg: vg ?? '', lv: lv ?? '', layer: layer ?? '' };
}

/** A deterministic pseudo-random generator (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHARSET = 'abcXYZ019+_.-';
function randomName(next: () => number): string {
  const length = 1 + Math.floor(next() * 12);
  let s = '';
  for (let i = 0; i < length; i++) s += CHARSET[Math.floor(next() * CHARSET.length)];
  return s.startsWith('-') ? `a${s}` : s;
}

describe('device-mapper names', () => {
  it.each(['a-b-c-d', 'a-b-c--d', 'a--', 'a-', 'a---b', 'a----b-c', 'a-b--', 'a-b-', 'ab', 'vg--a-lv--b-real', 'vm--disks-snapclone--win--xp--20261126T103555Z1'])(
    'splits %s as dmsetup splitname does',
    (name) => {
      const oracle = dmsetupSplit(name);
      const ours = splitDmName(name);
      if (oracle.vg === '' || oracle.lv === '') expect(ours).toBeUndefined();
      else expect(ours).toEqual(oracle);
    },
  );

  it('splits dmName(vg, lv) back into vg and lv, as dmsetup does, for 150 random valid names', () => {
    const next = rng(5);
    for (let i = 0; i < 150; i++) {
      const vg = randomName(next);
      const lv = randomName(next);
      const name = dmName(vg, lv);
      expect(splitDmName(name), name).toEqual({ vg, lv, layer: '' });
      expect(dmsetupSplit(name), name).toEqual({ vg, lv, layer: '' });
    }
  });

  it('names layers as LVM does', () => {
    expect(dmName('vm-disks', 'win-xp', 'cow')).toBe('vm--disks-win--xp-cow');
    expect(splitDmName('vm--disks-win--xp-cow')).toEqual({ vg: 'vm-disks', lv: 'win-xp', layer: 'cow' });
  });
});

describe('VG and LV name rules (lvm(8) VALID NAMES)', () => {
  it.each(['vg0', 'vm-disks', 'a+b_c.d', 'x'.repeat(127)])('accepts %s', (name) => {
    expect(vgNameProblem(name)).toBeUndefined();
    expect(lvNameProblem(name)).toBeUndefined();
  });
  it.each(['', '-vg', '.', '..', 'a b', 'a/b', 'é', 'x'.repeat(128)])('refuses VG and LV name %j', (name) => {
    expect(vgNameProblem(name)).toBeDefined();
    expect(lvNameProblem(name)).toBeDefined();
  });
  it.each(['snapshot', 'snapshot1', 'pvmove0', 'data_tmeta', 'x_rimage_0', 'a_cdata'])('refuses reserved LV name %s', (name) => {
    expect(lvNameProblem(name)).toBeDefined();
    expect(vgNameProblem(name)).toBeUndefined();
  });
});

describe('snapshot names and tags', () => {
  const when = new Date(Date.UTC(2026, 10, 26, 10, 35, 55, 123));

  it('stamps names in UTC, sortable as text', () => {
    expect(utcStamp(when)).toBe('20261126T103555Z');
    expect(snapshotName('vm-disks', 'win-xp', when)).toBe('snapclone-win-xp-20261126T103555Z');
    expect(lvNameProblem(snapshotName('vm-disks', 'win-xp', when))).toBeUndefined();
  });

  it('shortens the LV part so that the name and the device-mapper name of its -cow device fit LVM', () => {
    const vg = 'v-g'.repeat(10);
    const name = snapshotName(vg, 'l-v'.repeat(40), when);
    expect(name).toMatch(/^snapclone-(l-v)+l?-?-20261126T103555Z$/);
    expect(lvNameProblem(name)).toBeUndefined();
    expect(dmName(vg, name, 'cow').length).toBeLessThanOrEqual(127);
    expect(dmName(vg, snapshotName(vg, 'l-v'.repeat(40) + 'x', when), 'cow').length).toBeLessThanOrEqual(127);
  });

  it('refuses a VG whose name leaves no room', () => {
    expect(() => snapshotName('v-'.repeat(60), 'lv', when)).toThrow(expect.objectContaining({ code: 'LVM_BAD_NAME' }));
  });

  it('tags the origin unambiguously, within the portable tag charset', () => {
    expect(originTag('vm-disks', 'win-xp')).toBe('snapclone-origin-vm--disks-win--xp');
    // "a-b"/"c" and "a"/"b-c" must not share a tag.
    expect(originTag('a-b', 'c')).not.toBe(originTag('a', 'b-c'));
    const next = rng(9);
    for (let i = 0; i < 100; i++) {
      const vg = randomName(next);
      const lv = randomName(next);
      const tag = originTag(vg, lv);
      expect(isPortableTag(tag), tag).toBe(true);
      expect(parseOriginTag(tag)).toEqual({ vg, lv });
    }
    expect(parseOriginTag('snapclone')).toBeUndefined();
    expect(parseOriginTag('other-tag')).toBeUndefined();
    expect(parseOriginTag('snapclone-origin-vg-lv-cow')).toBeUndefined();
  });
});
