// A stand-in for a backup run, for the VM tests: opens a snapshot session through the built dist/
// (lock, journal, snapshot, watcher), journals an unfinished set directory, writes READY_FILE, then
// waits to be killed. SIGKILL leaves everything behind; SIGTERM runs the shutdown hooks as the CLI does.
// Usage: node hold-snapshot.mjs SOURCE STATE_DIR READY_FILE SET_PARENT_DIR

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openSnapshotSession } from '../../../dist/src/backup/snapshot-session.js';
import { Lvm } from '../../../dist/src/lvm/lvm.js';
import { onShutdown, runShutdownHooks } from '../../../dist/src/io/shutdown.js';

const [source, stateDir, readyFile, setParent] = process.argv.slice(2);
if (!setParent) throw new Error('usage: hold-snapshot.mjs SOURCE STATE_DIR READY_FILE SET_PARENT_DIR');

process.on('SIGTERM', () => {
  void runShutdownHooks().then((results) => {
    for (const r of results) process.stderr.write(`hold-snapshot: cleaned up ${r.name}${r.error ? ` FAILED ${r.error}` : ''}\n`);
    process.exit(130);
  });
});

const session = await openSnapshotSession({
  source,
  stateDir,
  lvm: new Lvm(),
  snapshotSizeBytes: 8 * 1024 * 1024,
  watch: { intervalMs: 1000 },
  command: 'backup',
  log: (m) => process.stderr.write(`hold-snapshot: ${m}\n`),
});
// An unfinished backup set, named as src/io/atomic-file.ts names temporaries.
const setDir = join(setParent, `.win-xp-set.snapclone-${process.pid}-abcdef.tmp`);
const id = await session.journal.intend({ type: 'temp-dir', path: setDir });
await mkdir(setDir, { recursive: true });
await writeFile(join(setDir, 'part1.img.bz2.partial'), 'half a backup');
await session.journal.created(id);
onShutdown(`set ${setDir}`, async () => {
  await rm(setDir, { recursive: true, force: true });
  await session.journal.removed(id);
});
await writeFile(
  readyFile,
  JSON.stringify({ pid: process.pid, snapshot: `${session.snapshot.vg}/${session.snapshot.name}`, journal: session.journal.path, lock: session.lock.path, setDir }),
);
setInterval(() => {}, 1 << 30);
