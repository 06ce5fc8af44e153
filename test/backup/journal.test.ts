// The resource journal: what a run writes, and reading back journals that crashes cut short or damaged.

import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJournal, pendingResources, serializeEntry, type JournalEntry } from '../../src/backup/journal-format.js';
import { listJournalFiles, ResourceJournal } from '../../src/backup/resource-journal.js';
import { ensureStateDir, journalsDir } from '../../src/backup/state-dir.js';
import { makeTempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  await ensureStateDir(dir);
});
afterEach(() => cleanup());

const snapshot = { type: 'snapshot', vg: 'vm-disks', name: 'snapclone-win-xp-20261126T103555Z', origin: 'win-xp' } as const;

describe('ResourceJournal', () => {
  it('records intent, creation and removal, and deletes itself when nothing is left', async () => {
    const journal = await ResourceJournal.begin(dir, 'backup', 'vm-disks/win-xp');
    expect(await listJournalFiles(dir)).toEqual([journal.path]);
    const id = await journal.intend(snapshot);
    let parsed = parseJournal(await readFile(journal.path, 'utf8'), journal.path);
    expect(parsed.begin).toMatchObject({ command: 'backup', source: 'vm-disks/win-xp', owner: { pid: process.pid } });
    expect(parsed.resources).toEqual([{ id, resource: snapshot, state: 'intended' }]);
    await journal.created(id, 'h5uxwp-H5wv-4btY-Tjse-4PpQ-8L8d-m6Sq1T');
    parsed = parseJournal(await readFile(journal.path, 'utf8'), journal.path);
    expect(parsed.resources[0]).toMatchObject({ state: 'created', uuid: 'h5uxwp-H5wv-4btY-Tjse-4PpQ-8L8d-m6Sq1T' });
    await journal.removed(id);
    expect(pendingResources(parseJournal(await readFile(journal.path, 'utf8'), journal.path))).toEqual([]);
    expect(await journal.finish()).toBe('deleted');
    expect(await readdir(journalsDir(dir))).toEqual([]);
  });

  it('keeps itself, ended, while a resource is left', async () => {
    const journal = await ResourceJournal.begin(dir, 'backup', 'vg0/web');
    await journal.intend({ type: 'mapping', name: 'vg0-snapclone--web--x1' });
    expect(await journal.finish()).toBe('kept');
    const parsed = parseJournal(await readFile(journal.path, 'utf8'), journal.path);
    expect(parsed.ended).toBe(true);
    expect(pendingResources(parsed)).toHaveLength(1);
  });

  it('serializes concurrent appends into whole lines', async () => {
    const journal = await ResourceJournal.begin(dir, 'backup', 'vg0/web');
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => journal.intend({ type: 'mapping', name: `m${i}` })));
    const parsed = parseJournal(await readFile(journal.path, 'utf8'), journal.path);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.resources.map((r) => r.id).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    await journal.finish();
  });
});

describe('parseJournal', () => {
  const begin: JournalEntry = {
    op: 'begin',
    version: 1,
    runId: 'r1',
    owner: { pid: 4242, startTicks: 77, hostname: 'h' },
    command: 'backup',
    source: 'vg0/web',
    time: '2026-11-26T10:00:00.000Z',
  };
  const t = '2026-11-26T10:00:01.000Z';
  const lines = (...entries: JournalEntry[]): string => entries.map(serializeEntry).join('');

  it('ignores a last line cut short by a crash, with a warning and its offset', () => {
    const whole = lines(begin, { op: 'intent', id: 1, resource: snapshot, time: t });
    const text = `${whole}{"op":"created","id":1,"ti`;
    const parsed = parseJournal(text, 'j');
    expect(parsed.resources).toEqual([{ id: 1, resource: snapshot, state: 'intended' }]);
    expect(parsed.warnings).toEqual([expect.objectContaining({ code: 'SET_JOURNAL_TORN_LINE', byteOffset: whole.length })]);
  });

  it('skips damaged lines in the middle with warnings and keeps the rest', () => {
    const text =
      lines(begin) +
      'not json\n' +
      lines(
        { op: 'intent', id: 1, resource: { type: 'temp-dir', path: '/srv/b/.set.snapclone-12-ab.tmp' }, time: t },
        { op: 'removed', id: 9, time: t },
        { op: 'end', time: t },
      );
    const parsed = parseJournal(text, 'j');
    expect(parsed.resources).toHaveLength(1);
    expect(parsed.ended).toBe(true);
    expect(parsed.warnings.map((w) => w.code)).toEqual(['SET_JOURNAL_BAD_LINE', 'SET_JOURNAL_BAD_LINE']);
  });

  it.each([
    ['an absolute path that is not a snapclone temporary', { type: 'temp-dir', path: '/srv/backups' }],
    ['a relative path', { type: 'temp-dir', path: '.set.snapclone-1-ab.tmp' }],
    ['a path through ..', { type: 'temp-dir', path: '/srv/../.set.snapclone-1-ab.tmp' }],
    ['a snapshot with an invalid LV name', { type: 'snapshot', vg: 'vg0', name: 'a b', origin: 'web' }],
    ['a mapping name with a slash', { type: 'mapping', name: '../x' }],
    ['an unknown type', { type: 'file', path: '/etc/passwd' }],
  ])('never lists %s as a resource to remove', (_name, resource) => {
    const text = lines(begin) + `${JSON.stringify({ op: 'intent', id: 1, resource, time: t })}\n`;
    const parsed = parseJournal(text, 'j');
    expect(parsed.resources).toEqual([]);
    expect(parsed.warnings).toHaveLength(1);
  });

  it('fails with SET_JOURNAL_CORRUPT when the first line is not a begin line', () => {
    expect(() => parseJournal('garbage\n', 'j')).toThrow(expect.objectContaining({ code: 'SET_JOURNAL_CORRUPT' }));
    expect(() => parseJournal(lines({ op: 'end', time: t }), 'j')).toThrow(expect.objectContaining({ code: 'SET_JOURNAL_CORRUPT' }));
    expect(() => parseJournal('', 'j')).toThrow(expect.objectContaining({ code: 'SET_JOURNAL_CORRUPT' }));
    expect(() => parseJournal(serializeEntry({ ...begin, version: 2 } as JournalEntry), 'j')).toThrow(expect.objectContaining({ code: 'SET_JOURNAL_CORRUPT' }));
  });

  it('reads back a journal appended to after a torn line once a newline separates them', async () => {
    const path = join(dir, 'journal', 'x.jsonl');
    await writeFile(path, `${lines(begin, { op: 'intent', id: 1, resource: snapshot, time: t })}{"op":"crea`);
    await appendFile(path, `\n${serializeEntry({ op: 'removed', id: 1, time: t })}`);
    const parsed = parseJournal(await readFile(path, 'utf8'), path);
    expect(pendingResources(parsed)).toEqual([]);
    expect(parsed.warnings.map((w) => w.code)).toEqual(['SET_JOURNAL_BAD_LINE']);
  });
});
