// A separate process that takes snapclone state (through the built dist/) and waits to be killed, for
// the lock, journal and cleanup tests: a real other owner, really killed.
// Usage: node state-child.mjs STATE_DIR lock VG LV
//        node state-child.mjs STATE_DIR run VG LV SET_PARENT   (lock + journal + an unfinished set dir)
// Prints one JSON line on stdout when ready.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireSourceLock } from '../../dist/src/backup/source-lock.js';
import { ResourceJournal } from '../../dist/src/backup/resource-journal.js';
import { ensureStateDir } from '../../dist/src/backup/state-dir.js';

const [stateDir, mode, vg, lv, setParent] = process.argv.slice(2);
await ensureStateDir(stateDir);
try {
  const lock = await acquireSourceLock(stateDir, vg, lv, mode === 'run' ? 'backup' : 'test');
  const ready = { pid: process.pid, lock: lock.path };
  if (mode === 'run') {
    const journal = await ResourceJournal.begin(stateDir, 'backup', `${vg}/${lv}`);
    const setDir = join(setParent, `.set-${lv}.snapclone-${process.pid}-0a1b2c.tmp`);
    const id = await journal.intend({ type: 'temp-dir', path: setDir });
    await mkdir(setDir, { recursive: true });
    await writeFile(join(setDir, 'disk.img.bz2'), 'partial');
    await journal.created(id);
    // Keep the journal (and its open file) referenced, as a running backup does.
    globalThis.journal = journal;
    Object.assign(ready, { journal: journal.path, setDir });
  }
  process.stdout.write(`${JSON.stringify(ready)}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, error: e.code ?? String(e) })}\n`);
  process.exit(4);
}
setInterval(() => {}, 1 << 30);
