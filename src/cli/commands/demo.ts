// `snapclone demo` (what `npm start` runs): the whole job on the bundled demo disk (an MBR disk with a
// bootable primary and a logical NTFS partition, boot code and a boot area): back it up into
// ./demo-backups as `snapclone backup` does, verify the set, restore it onto a scratch file, and check
// the result with snapclone's own readers: the same partition table and boot area, every used
// cluster of each NTFS volume equal (all files and metadata), and the image of each restored volume
// identical to the original's. Needs no root, no ntfs-3g, no LVM and no arguments.

import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { equalBytes } from '../../core/bytes.js';
import { SnapcloneError } from '../../core/errors.js';
import { SliceReadAt, type ReadAt } from '../../core/read-at.js';
import { formatBytes, formatDuration } from '../../core/units.js';
import { restoreSet } from '../../backup/restore-set.js';
import { runBackup } from '../../backup/run-backup.js';
import { prepareSaveFrom } from '../../backup/save-image.js';
import { compareUsedClusters, sha256OfChunks } from '../../backup/verify-restore.js';
import { verifySet } from '../../backup/verify-set.js';
import { SourceFile } from '../../io/source-file.js';
import { gunzipToSparseFile } from '../../io/sparse-gunzip.js';
import { Lvm } from '../../lvm/lvm.js';
import { compareLayouts, readLayout } from '../../partition/index.js';
import { progressFromOptions } from '../progress.js';
import { TOOL_VERSION } from '../version.js';

interface DemoOptions {
  quiet?: boolean;
  progress?: string;
  scratch?: string;
  dest?: string;
}

/** "0.42 s" below a minute, "3m05s" above. */
const seconds = (s: number): string => (s < 60 ? `${s.toFixed(2)} s` : formatDuration(s));

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('back up, verify and restore the bundled demo disk (MBR, primary and logical NTFS partitions); no root, no arguments')
    .option('--dest <dir>', 'where the backup sets go', 'demo-backups')
    .option('--scratch <dir>', 'where the demo unpacks and restores the disk', 'demo-scratch')
    .option('-q, --quiet', 'only the summary')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .action(async (opts: DemoOptions) => {
      await runDemo(opts);
    });
}

/** The bundled disk, from dist/src/cli/commands (built) or src/cli/commands (sources). */
function demoDiskPath(): string {
  for (const rel of ['../../../../fixtures/disk/demo-disk.img.gz', '../../../fixtures/disk/demo-disk.img.gz']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new SnapcloneError('DEMO_MISSING_DISK', 'the bundled demo disk (fixtures/disk/demo-disk.img.gz) is missing', {
    kind: 'internal',
    hint: 'run the demo from a checkout of the repository',
  });
}

async function runDemo(opts: DemoOptions): Promise<void> {
  const started = Date.now();
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  const progress = progressFromOptions(opts);
  const scratch = opts.scratch ?? 'demo-scratch';
  const dest = opts.dest ?? 'demo-backups';
  await mkdir(scratch, { recursive: true });
  const diskPath = join(scratch, 'vm-disk.img');
  const restoredPath = join(scratch, 'vm-disk-restored.img');
  const show = (p: string): string => relative(process.cwd(), p) || p;

  say('snapclone demo: back up a VM disk (MBR, a primary and a logical NTFS partition) into a backup set,');
  say('verify the set, restore it, and check the result with snapclone\'s own readers.\n');
  progress.begin('Unpacking the demo disk');
  const diskBytes = await gunzipToSparseFile(demoDiskPath(), diskPath, progress);
  progress.end();

  // 1. backup: what `snapclone backup vm-disk.img --dest demo-backups` does (a file: read live).
  const backup = await runBackup({
    source: diskPath,
    destDir: dest,
    label: 'vm-disk',
    stateDir: join(scratch, 'state'),
    lvm: new Lvm(),
    progress: quietNotes(progress, [/LVM is not installed/, /no snapshot was taken/]),
    tool: { name: 'snapclone', version: TOOL_VERSION },
  });
  const m = backup.manifest;
  const setBytes = m.files.reduce((n, f) => n + f.sizeBytes, 0);

  // 2. verify: checksums, bzip2 CRCs, every image decoded, layout consistent.
  const verified = await verifySet(backup.setPath, { progress });
  if (!verified.ok) {
    const first = verified.checks.find((c) => !c.ok);
    throw new SnapcloneError(first?.code ?? 'DEMO_VERIFY_FAILED', `the new set does not verify: ${first?.subject} ${first?.check}: ${first?.message}`, { kind: 'verify' });
  }

  // 3. restore onto a new file.
  const restored = await restoreSet({ setPath: backup.setPath, target: restoredPath, overwrite: true, lvm: new Lvm(), progress });

  // 4. check with snapclone's own readers.
  const original = await SourceFile.open(diskPath);
  const copy = await SourceFile.open(restoredPath);
  const checks: string[] = [];
  let ok = true;
  try {
    const [a, b] = [await readLayout(original), await readLayout(copy)];
    const tableSame = compareLayouts(a, b) === undefined && sameRegions(a.regions, b.regions);
    ok &&= tableSame;
    checks.push(`partition table ${tableSame ? 'identical' : 'DIFFERENT'} (${a.label}, ${a.partitions.length} entries, boot code and ${formatBytes(bootAreaBytes(a.regions))} of boot area)`);
    for (const p of m.partitions.filter((x) => x.filesystem === 'ntfs')) {
      const left = new SliceReadAt(original, p.startByte, p.sizeBytes);
      const right = new SliceReadAt(copy, p.startByte, p.sizeBytes);
      const result = await compareVolume(left, right, `partition ${p.number}`);
      ok &&= result.ok;
      checks.push(result.text);
    }
  } finally {
    await original.close();
    await copy.close();
  }

  say('');
  say(`  disk        ${show(diskPath)}: ${formatBytes(diskBytes)}, ${m.disk.label} label ${m.disk.id ?? ''}, partitions ${m.partitions.map((p) => p.number).join(' and ')} (NTFS)`);
  say(`  backup      ${show(backup.setPath)}: ${formatBytes(setBytes)} in ${seconds(m.timings.totalSeconds)}`);
  for (const f of m.files) say(`                ${f.name.padEnd(22)} ${formatBytes(f.sizeBytes).padStart(10)}  sha256 ${f.sha256.slice(0, 16)}...`);
  say(`  verify      ${verified.checks.length} checks passed (checksums, bzip2 CRCs, images decoded end to end, layout)`);
  say(`  restore     ${show(restoredPath)}: ${restored.partitions.length} images in ${seconds(restored.seconds)}`);
  for (const c of checks) say(`  check       ${c}`);
  if (backup.rotation.deleted.length > 0) say(`  rotation    kept the newest 3 sets of vm-disk; deleted ${backup.rotation.deleted.map((s) => s.name).join(', ')}`);
  say('');
  if (!ok) {
    throw new SnapcloneError('DEMO_VERIFY_FAILED', 'the restored disk does not match the original', {
      kind: 'verify',
      actual: checks.filter((c) => /DIFFER|differ/.test(c)).join('; '),
    });
  }
  say(`Done in ${seconds((Date.now() - started) / 1000)}. Each NTFS image is what \`ntfsclone --save-image\` writes, bzip2-compressed;`);
  say(`try \`snapclone list ${show(dest)}\`, \`snapclone verify ${show(backup.setPath)}\`, or \`snapclone backup --help\` for LVM.`);
}

/** Drops notes that say nothing useful in the demo (no LVM here; a file is read live by design). */
function quietNotes(inner: ReturnType<typeof progressFromOptions>, patterns: RegExp[]): ReturnType<typeof progressFromOptions> {
  return {
    begin: (phase, total) => inner.begin(phase, total),
    update: (done) => inner.update(done),
    end: () => inner.end(),
    note: (message) => {
      if (!patterns.some((p) => p.test(message))) inner.note(message);
    },
  };
}

function sameRegions(a: readonly { lba: number; bytes: Uint8Array }[], b: readonly { lba: number; bytes: Uint8Array }[]): boolean {
  return a.length === b.length && a.every((r, i) => r.lba === b[i]!.lba && equalBytes(r.bytes, b[i]!.bytes));
}

function bootAreaBytes(regions: readonly { role: string; bytes: Uint8Array }[]): number {
  return regions.filter((r) => r.role === 'boot-area').reduce((n, r) => n + r.bytes.byteLength, 0);
}

/** Used clusters equal, and the image of both volumes identical. */
async function compareVolume(left: ReadAt, right: ReadAt, name: string): Promise<{ ok: boolean; text: string }> {
  const a = await prepareSaveFrom(left, `${name} (original)`);
  const b = await prepareSaveFrom(right, `${name} (restored)`);
  const cmp = await compareUsedClusters(left, right, a.geometry, a.saveSet.bitmap);
  const [ia, ib] = [await sha256OfChunks(a.chunks()), await sha256OfChunks(b.chunks())];
  const ok = cmp.differingCount === 0 && ia.sha256 === ib.sha256;
  const clusters = cmp.differingCount === 0 ? `all ${cmp.comparedClusters} used clusters equal` : `${cmp.differingCount} used clusters DIFFER (first: ${cmp.differing.join(', ')})`;
  return { ok, text: `${name}: ${clusters}; re-saved image ${ia.sha256 === ib.sha256 ? 'identical' : 'DIFFERENT'} (sha256 ${ia.sha256.slice(0, 16)}...)` };
}
