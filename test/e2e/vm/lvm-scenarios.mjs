// The LVM layer's scenarios on real LVM, run inside the VM by lvm-job.sh through the built dist/.
// It records what it observes (error codes, fills, what plain `lvs`/`dmsetup` say) in OUT/scenarios.json;
// test/e2e/lvm.test.ts asserts on that file. Usage: node lvm-scenarios.mjs OUT_DIR STATE_DIR

import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lvm } from '../../../dist/src/lvm/lvm.js';
import { resolveSource } from '../../../dist/src/lvm/source.js';
import { createSnapshot, listSnapcloneSnapshots, readSnapshotState, removeSnapshot } from '../../../dist/src/lvm/snapshot.js';
import { listDmDevices, mappingsOf } from '../../../dist/src/lvm/dm-mappings.js';
import { activateLogicalVolume, createLogicalVolume } from '../../../dist/src/lvm/create-lv.js';
import { openSnapshotSession } from '../../../dist/src/backup/snapshot-session.js';
import { acquireSourceLock } from '../../../dist/src/backup/source-lock.js';
import { parseJournal } from '../../../dist/src/backup/journal-format.js';

const [out, stateDir] = process.argv.slice(2);
if (!stateDir) throw new Error('usage: lvm-scenarios.mjs OUT_DIR STATE_DIR');
const MiB = 1024 * 1024;
const results = {};
const started = Date.now();
const log = (m) => process.stderr.write(`scenarios +${((Date.now() - started) / 1000).toFixed(2)}s: ${m}\n`);

/** Logs how long each LVM command takes (the VM is slow: this is where its time goes). */
class TimedLvm extends Lvm {
  async run(command, args, okStatuses) {
    const t0 = Date.now();
    try {
      return await super.run(command, args, okStatuses);
    } finally {
      log(`  lvm ${command} ${args.at(-1)}: ${Date.now() - t0} ms`);
    }
  }
  async dmsetup(args) {
    const t0 = Date.now();
    try {
      return await super.dmsetup(args);
    } finally {
      log(`  dmsetup ${args[0]}: ${Date.now() - t0} ms`);
    }
  }
}
const lvm = new TimedLvm();

/** The error code a promise rejects with, or 'OK'. */
async function codeOf(promise) {
  try {
    await promise;
    return 'OK';
  } catch (e) {
    return e?.code ?? `UNCODED: ${e}`;
  }
}

/** The oracle: plain `lvs` text output, parsed by hand (not by the code under test). */
function lvsOracle() {
  const text = execFileSync('lvs', ['--noheadings', '--separator', '|', '--units', 'b', '--nosuffix', '-o', 'vg_name,lv_name,lv_tags,origin,lv_attr,snap_percent,lv_size'], {
    encoding: 'utf8',
  });
  const lvs = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [vg, name, tags, origin, attr, snapPercent, size] = line.trim().split('|');
    lvs[`${vg}/${name}`] = { tags: tags ? tags.split(',') : [], origin, attr, snapPercent: snapPercent === '' ? null : Number(snapPercent), sizeBytes: Number(size) };
  }
  return lvs;
}

function dmNames() {
  return execFileSync('dmsetup', ['ls'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split('\t')[0].trim())
    .filter((n) => n && n !== 'No devices found');
}

async function stateFiles() {
  const list = async (d) => (await readdir(`${stateDir}/${d}`).catch(() => [])).sort();
  return { locks: await list('locks'), journal: await list('journal') };
}

/** Writes `bytes` of random data to the origin at `byteOffset`, through the page cache, then fsyncs. */
function writeOrigin(path, byteOffset, bytes) {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBytes(bytes), 0, bytes, byteOffset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readBytes(path, byteOffset, bytes) {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    readSync(fd, buf, 0, bytes, byteOffset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    results[name] = await fn();
  } catch (e) {
    results[name] = { unexpectedError: `${e?.code ?? ''} ${e?.stack ?? e}` };
  }
  results[name].seconds = (Date.now() - t0) / 1000;
  log(`${name} done in ${results[name].seconds} s`);
}

const ORIGIN = '/dev/vm-disks/win-xp';

// 1. A run killed earlier (by lvm-job.sh) left a snapshot, a mapping and a set: the first session's
//    start-of-run sweep removes them. 2. The session's snapshot: name, tags, journal, lock.
//    3. The fill rises with writes to the origin; the watcher aborts before 100%.
await step('session', async () => {
  const before = lvsOracle();
  const session = await openSnapshotSession({
    source: ORIGIN,
    stateDir,
    lvm,
    snapshotSizeBytes: 8 * MiB,
    watch: { intervalMs: 100, abortAtPercent: 90 },
    log,
  });
  const snapKey = `${session.snapshot.vg}/${session.snapshot.name}`;
  const oracleDuring = lvsOracle();
  const journalText = await readFile(session.journal.path, 'utf8');
  const journal = parseJournal(journalText, session.journal.path);
  const secondLock = await codeOf(acquireSourceLock(stateDir, 'vm-disks', 'win-xp', 'backup'));
  const secondSession = await codeOf(openSnapshotSession({ source: 'vm-disks/win-xp', stateDir, lvm, watch: false }));
  const snapshotAsSource = await codeOf(resolveSource(session.snapshot.path, lvm));
  const isBlockDevice = statSync(session.snapshot.path).isBlockDevice();

  // Copy-on-write: the snapshot keeps the old bytes while the origin changes. (Writes start after
  // the first MiB: the partition table stays intact for the mappings scenario.)
  const originalMiB = readBytes(ORIGIN, MiB, MiB);
  const fillBefore = (await readSnapshotState(lvm, 'vm-disks', session.snapshot.name)).fillPercent;
  writeOrigin(ORIGIN, MiB, MiB);
  const fillAfterOneMiB = (await readSnapshotState(lvm, 'vm-disks', session.snapshot.name)).fillPercent;
  const snapshotKeptOldData = readBytes(session.snapshot.path, MiB, MiB).equals(originalMiB);
  const originChanged = !readBytes(ORIGIN, MiB, MiB).equals(originalMiB);
  const oracleFillAfterOneMiB = lvsOracle()[snapKey].snapPercent;

  // About 70% full at once, then steps of 512 KiB (about 6% of the 8 MiB snapshot) until the
  // watcher aborts; 16 steps would be more than the snapshot holds. After each step, wait for a
  // reading that started after the write: a slow, loaded CI machine must not turn this into a race.
  writeOrigin(ORIGIN, 2 * MiB, 4.5 * MiB);
  const fills = [];
  let byteOffset = 6.5 * MiB;
  for (let i = 0; i < 16 && !session.signal.aborted; i++) {
    writeOrigin(ORIGIN, byteOffset, 512 * 1024);
    const writtenAtMs = Date.now();
    byteOffset += 512 * 1024;
    for (let waited = 0; session.watcher.lastSampleAtMs <= writtenAtMs && !session.signal.aborted && waited < 600; waited++) await sleep(50);
    fills.push(session.watcher.lastState?.fillPercent ?? null);
  }
  const abortReason = session.signal.reason;
  const stateAtAbort = await readSnapshotState(lvm, 'vm-disks', session.snapshot.name);
  const oracleAtAbort = lvsOracle()[snapKey];
  const closeCode = await codeOf(session.close({ verify: false }));
  const after = lvsOracle();
  return {
    snapshotsBefore: Object.keys(before).filter((k) => before[k].attr.startsWith('s')),
    recovery: session.recovery,
    snapshot: { vg: session.snapshot.vg, name: session.snapshot.name, tags: session.snapshot.tags, sizeBytes: session.snapshot.sizeBytes, path: session.snapshot.path },
    sizePlan: session.sizePlan,
    oracle: oracleDuring[snapKey] ?? null,
    isBlockDevice,
    journalResources: journal.resources,
    journalOwnerPid: journal.begin.owner.pid,
    ownPid: process.pid,
    secondLock,
    secondSession,
    snapshotAsSource,
    fillBefore,
    fillAfterOneMiB,
    oracleFillAfterOneMiB,
    snapshotKeptOldData,
    originChanged,
    fills,
    abortCode: abortReason?.code ?? null,
    abortKind: abortReason?.kind ?? null,
    peakPercent: session.watcher.peakPercent,
    stateAtAbort,
    oracleAtAbort: oracleAtAbort ?? null,
    closeCode,
    snapshotGoneAfterClose: !(snapKey in after),
    stateFilesAfterClose: await stateFiles(),
  };
});

// Resolving SOURCE in every spelling, and things that are not LVs.
await step('resolve', async () => {
  // devtmpfs names the node of device-mapper minor N /dev/dm-N (udev would point /dev/mapper there).
  const minor = execFileSync('dmsetup', ['info', '-c', '--noheadings', '-o', 'minor', 'vm--disks-win--xp'], { encoding: 'utf8' }).trim();
  const forms = ['/dev/vm-disks/win-xp', '/dev/mapper/vm--disks-win--xp', 'vm-disks/win-xp', `/dev/dm-${minor}`];
  const resolved = [];
  for (const f of forms) {
    const s = await resolveSource(f, lvm);
    resolved.push({ form: f, vg: s.vg, lv: s.lv, sizeBytes: s.sizeBytes, path: s.path });
  }
  const loop = execFileSync('losetup', ['-j', '/tmp/pv1.img', '-O', 'NAME', '--noheadings'], { encoding: 'utf8' }).trim();
  return {
    resolved,
    oracleSizeBytes: lvsOracle()['vm-disks/win-xp'].sizeBytes,
    loopDevice: await codeOf(resolveSource(loop, lvm)),
    missingLv: await codeOf(resolveSource('vm-disks/no-such-lv', lvm)),
    missingVg: await codeOf(resolveSource('/dev/no-such-vg/win-xp', lvm)),
    realPartMapping: await codeOf(resolveSource('/dev/mapper/vm--disks-win--xp-real', lvm)),
    garbage: await codeOf(resolveSource('not a volume', lvm)),
    aFile: await codeOf(resolveSource('/etc/hostname', lvm)),
  };
});

// A normal lifecycle: open, a few writes, close with the final validity check. A second session in
// the same process (a VM with two disks) must not take the first one's snapshot for a leftover.
await step('lifecycle', async () => {
  const session = await openSnapshotSession({ source: 'vm-disks/win-xp', stateDir, lvm, snapshotSizeBytes: 8 * MiB, watch: { intervalMs: 500 }, log });
  const key = `${session.snapshot.vg}/${session.snapshot.name}`;
  writeOrigin(ORIGIN, 20 * MiB, 512 * 1024);
  const second = await openSnapshotSession({ source: 'vm-disks/other', stateDir, lvm, snapshotSizeBytes: 4 * MiB, watch: false, log });
  const secondKey = `${second.snapshot.vg}/${second.snapshot.name}`;
  const both = lvsOracle();
  const existed = key in both && secondKey in both;
  const secondRecovery = second.recovery.actions;
  await second.close();
  const closed = await session.close();
  const after = lvsOracle();
  return {
    existed,
    secondRecovery,
    peakFillPercent: closed.peakFillPercent,
    gone: !(key in after) && !(secondKey in after),
    stateFiles: await stateFiles(),
    aborted: session.signal.aborted,
  };
});

// A snapshot that overflows between two polls: the final check reports it invalid.
await step('overflow', async () => {
  const session = await openSnapshotSession({ source: 'vm-disks/win-xp', stateDir, lvm, snapshotSizeBytes: 4 * MiB, watch: { intervalMs: 60_000 }, log });
  const key = `${session.snapshot.vg}/${session.snapshot.name}`;
  writeOrigin(ORIGIN, 24 * MiB, 8 * MiB);
  const state = await readSnapshotState(lvm, 'vm-disks', session.snapshot.name);
  const oracle = lvsOracle()[key];
  let closeCode = 'OK';
  let closeKind = null;
  try {
    await session.close();
  } catch (e) {
    closeCode = e.code;
    closeKind = e.kind;
  }
  return { state, oracleAttr: oracle?.attr ?? null, oracleSnapPercent: oracle?.snapPercent ?? null, closeCode, closeKind, gone: !(key in lvsOracle()), stateFiles: await stateFiles() };
});

// A VG without room for the default snapshot is refused before anything is created.
await step('noRoom', async () => {
  const vgFree = Number(execFileSync('vgs', ['--noheadings', '--units', 'b', '--nosuffix', '-o', 'vg_free', 'small-vg'], { encoding: 'utf8' }).trim());
  let error = null;
  try {
    await openSnapshotSession({ source: 'small-vg/data', stateDir, lvm, watch: false, log });
  } catch (e) {
    error = { code: e.code, kind: e.kind, expected: e.expected, actual: e.actual, hint: e.hint };
  }
  const snapshotsAfterRefusal = Object.keys(lvsOracle()).filter((k) => k.startsWith('small-vg/snapclone'));
  const filesAfterRefusal = await stateFiles();
  // An explicit smaller size that fits is accepted.
  const small = await openSnapshotSession({ source: 'small-vg/data', stateDir, lvm, snapshotSizeBytes: 8 * MiB, watch: false, log });
  const smallSize = small.snapshot.sizeBytes;
  await small.close();
  return { vgFree, error, snapshotsAfterRefusal, filesAfterRefusal, smallSize };
});

// A partition map an older tool stacked on a snapclone snapshot: found, and removed before lvremove.
await step('mappings', async () => {
  const snap = await createSnapshot(lvm, 'vm-disks', 'win-xp', { sizeBytes: 8 * MiB });
  execFileSync('kpartx', ['-a', snap.path]);
  const found = mappingsOf(snap.info, await listDmDevices(lvm)).map((d) => d.name);
  const dmBefore = dmNames();
  const listed = (await listSnapcloneSnapshots(lvm)).map((s) => `${s.vg}/${s.name}`);
  const removal = await removeSnapshot(lvm, snap.vg, snap.name, { expectedUuid: snap.uuid });
  const again = await removeSnapshot(lvm, snap.vg, snap.name);
  return {
    name: snap.name,
    found,
    dmBefore,
    listed,
    mappingsRemoved: removal.mappingsRemoved,
    removed: removal.removed,
    removedAgain: again.removed,
    dmAfter: dmNames(),
    gone: !(`vm-disks/${snap.name}` in lvsOracle()),
    notSnapclone: await codeOf(removeSnapshot(lvm, 'vm-disks', 'keep-me')),
  };
});

// Asked for more than a full copy needs, lvcreate gives the full-copy size: the policy's cap must match.
await step('fullCopyCap', async () => {
  const snap = await createSnapshot(lvm, 'vm-disks', 'win-xp', { sizeBytes: 200 * MiB });
  await removeSnapshot(lvm, snap.vg, snap.name);
  return { originBytes: 64 * MiB, requestedBytes: 200 * MiB, actualBytes: snap.sizeBytes };
});

// Creating an LV for a restore, and activating one.
await step('createLv', async () => {
  const lv = await createLogicalVolume(lvm, { vg: 'vm-disks', name: 'restored', sizeBytes: 20 * MiB + 1 });
  const isBlockDevice = statSync('/dev/vm-disks/restored').isBlockDevice();
  const oracle = lvsOracle()['vm-disks/restored'];
  execFileSync('lvchange', ['-an', 'vm-disks/restored']);
  const inactiveAttr = lvsOracle()['vm-disks/restored'].attr;
  const activated = await activateLogicalVolume(lvm, 'vm-disks', 'restored');
  return {
    sizeBytes: lv.sizeBytes,
    oracleSizeBytes: oracle.sizeBytes,
    active: lv.isActive,
    isBlockDevice,
    inactiveAttr,
    reactivated: activated.isActive && statSync('/dev/vm-disks/restored').isBlockDevice(),
    exists: await codeOf(createLogicalVolume(lvm, { vg: 'vm-disks', name: 'restored', sizeBytes: MiB })),
    tooBig: await codeOf(createLogicalVolume(lvm, { vg: 'vm-disks', name: 'huge', sizeBytes: 4096 * MiB })),
    noVg: await codeOf(createLogicalVolume(lvm, { vg: 'no-such-vg', name: 'x', sizeBytes: MiB })),
    badName: await codeOf(createLogicalVolume(lvm, { vg: 'vm-disks', name: 'snapshot1', sizeBytes: MiB })),
  };
});

// A snapshot of an inactive origin comes out active and readable.
await step('inactiveOrigin', async () => {
  execFileSync('lvchange', ['-an', 'vm-disks/restored']);
  const snap = await createSnapshot(lvm, 'vm-disks', 'restored', { sizeBytes: 4 * MiB });
  const readable = readBytes(snap.path, 0, 4096).length === 4096;
  const active = snap.info.isActive;
  await removeSnapshot(lvm, snap.vg, snap.name);
  return { active, readable };
});

results.totalSeconds = (Date.now() - started) / 1000;
await writeFile(`${out}/scenarios.json`, `${JSON.stringify(results, null, 1)}\n`);
log(`all scenarios done in ${results.totalSeconds} s`);
