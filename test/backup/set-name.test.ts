import { describe, expect, it } from 'vitest';
import {
  parseSetName,
  parseTemporarySetName,
  setName,
  temporarySetName,
  utcStamp,
  validateLabel,
} from '../../src/backup/set-name.js';
import { setsToDelete } from '../../src/backup/rotation.js';

describe('set names', () => {
  it('stamps in UTC so names sort by time', () => {
    const d = new Date('2026-11-26T10:26:15.123Z');
    expect(utcStamp(d)).toBe('20261126T102615Z');
    expect(setName('winxp', d)).toBe('winxp-20261126T102615Z');
    const a = setName('vm', new Date('2026-01-02T03:04:05Z'));
    const b = setName('vm', new Date('2026-10-02T03:04:05Z'));
    expect([b, a].sort()).toEqual([a, b]);
  });
  it('round-trips final and temporary names', () => {
    const final = setName('db-01', new Date('2026-11-26T10:26:15Z'));
    expect(parseSetName(final)).toMatchObject({ label: 'db-01', stamp: '20261126T102615Z' });
    expect(parseSetName(final)!.date.toISOString()).toBe('2026-11-26T10:26:15.000Z');
    const tmp = temporarySetName(final, 4242);
    expect(tmp.startsWith('.')).toBe(true);
    expect(parseSetName(tmp)).toBeUndefined();
    expect(parseTemporarySetName(tmp)).toEqual({ finalName: final, pid: 4242 });
    expect(parseTemporarySetName('.hidden')).toBeUndefined();
    expect(parseSetName('db-01-2026')).toBeUndefined();
    expect(parseSetName('db-01-20261399T999999Z')).toBeUndefined();
  });
  it('refuses labels that could escape the directory', () => {
    for (const bad of ['', '../x', 'a/b', '-x', 'x'.repeat(65), 'sp ace']) {
      expect(() => validateLabel(bad)).toThrow(expect.objectContaining({ code: 'USAGE_BAD_LABEL' }));
    }
  });
});

describe('rotation', () => {
  const set = (name: string, iso: string, complete = true, label = 'vm') => ({ name, label, date: new Date(iso), complete });
  it('keeps the newest N complete sets of the label', () => {
    const sets = [
      set('vm-1', '2026-01-01T00:00:00Z'),
      set('vm-2', '2026-01-02T00:00:00Z'),
      set('vm-3', '2026-01-03T00:00:00Z', false),
      set('vm-4', '2026-01-04T00:00:00Z'),
      set('vm-5', '2026-01-05T00:00:00Z'),
      set('other-1', '2025-01-01T00:00:00Z', true, 'other'),
    ];
    expect(setsToDelete(sets, 'vm', 3).map((s) => s.name)).toEqual(['vm-1']);
    expect(setsToDelete(sets, 'vm', 2).map((s) => s.name)).toEqual(['vm-1', 'vm-2']);
    expect(setsToDelete(sets, 'vm', 10)).toEqual([]);
  });
  it('never deletes the only complete set', () => {
    const sets = [set('vm-1', '2026-01-01T00:00:00Z'), set('vm-2', '2026-01-02T00:00:00Z', false)];
    expect(setsToDelete(sets, 'vm', 0)).toEqual([]);
    expect(setsToDelete([set('a', '2026-01-01T00:00:00Z'), set('b', '2026-01-02T00:00:00Z')], 'vm', 0).map((s) => s.name)).toEqual(['a']);
  });
});
