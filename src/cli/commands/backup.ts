// `snapclone backup SOURCE --dest DIR`: a whole VM disk into a rotated, verifiable backup set, with
// the snapshot lifecycle, the guest freeze and crash-safe cleanup. Spec: issue 5 (prompts) "backup".

import { Command, Option } from 'commander';
import { SnapcloneError } from '../../core/errors.js';
import { parseIntegerOption, parseSeconds, parseSizeBytes } from '../../core/units.js';
import type { AuthorizedKey } from '../../agent/keys.js';
import { DEFAULT_KEEP, DEFAULT_LEVEL, runBackup, type BackupReport } from '../../backup/run-backup.js';
import { DEFAULT_STATE_DIR, resolveStateDir, STATE_DIR_ENV } from '../../backup/state-dir.js';
import { Lvm } from '../../lvm/lvm.js';
import { progressFromOptions } from '../progress.js';
import { TOOL_VERSION } from '../version.js';

interface BackupCliOptions {
  dest: string;
  name?: string;
  keep?: string;
  snapshotSize?: string;
  level?: string;
  threads?: string;
  force?: boolean;
  raw?: string[];
  agent?: string;
  key?: string;
  agentKey?: string;
  allowUnquiesced?: boolean;
  maxFreeze?: string;
  stateDir?: string;
  watchInterval?: string;
  maxFill?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('back up a VM disk (an LVM logical volume, snapshotted; or a disk image file) into a rotated backup set')
    .argument('<source>', 'the disk: /dev/VG/LV or VG/LV (snapshotted), or a disk image file or block device (read live)')
    .requiredOption('--dest <dir>', 'the directory that holds the backup sets (created if missing)')
    .option('--name <label>', 'the set label (default: the LV name, or the file name without its extension)')
    .option('--keep <n>', `complete sets of this label to keep; older ones are deleted after the new one is complete (default ${DEFAULT_KEEP})`)
    .option('--snapshot-size <size>', 'copy-on-write space of the snapshot, e.g. 2G (default: 10% of the LV, at least 256M)')
    .option('--level <1-9>', `bzip2 block size, as bzip2 -1..-9 (default ${DEFAULT_LEVEL}, as the seed's bzip2 -2)`)
    .option('--threads <n>', 'compression threads (default: one per core; at least 2 while a snapshot is watched)')
    .option('-f, --force', 'save NTFS volumes flagged dirty (not shut down cleanly, or chkdsk scheduled)')
    .option('--raw <partition>', 'save this partition (number, 0 for a disk without a table) as raw bytes even if it holds NTFS; repeatable', collect)
    .option('--agent <host:port>', "freeze the guest through its snapclone agent while the snapshot is taken")
    .option('--key <file>', 'the private key that authenticates to the agent (with --agent)')
    .option('--agent-key <file.pub|SHA256:...>', "require this agent host key (pin)")
    .option('--allow-unquiesced', 'when the guest cannot be frozen, take a crash-consistent backup instead of failing')
    .option('--max-freeze <seconds>', 'ask the agent to thaw on its own after this long at most')
    .option('--state-dir <dir>', `where locks and run journals live (default: $${STATE_DIR_ENV}, or ${DEFAULT_STATE_DIR} for root, ~/.local/state/snapclone for others)`)
    .addOption(new Option('--watch-interval <seconds>', 'how often the snapshot fill is checked (default 5)').hideHelp())
    .addOption(new Option('--max-fill <percent>', 'stop the backup when the snapshot is this full (default 90)').hideHelp())
    .option('--json', 'print the report (set, files, rotation) as one JSON object on stdout')
    .option('-q, --quiet', 'no progress and no messages')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  snapclone backup /dev/vg0/winxp --dest /srv/backups\n' +
        '  snapclone backup vg0/winxp --dest /srv/backups --keep 7 --level 2 --agent winxp:7410 --key /etc/snapclone/hv.key\n' +
        '  snapclone backup winxp.img --dest ./backups          # a disk image file, read live\n' +
        '\nExit status 0 when the set is complete; a failed or interrupted backup leaves no complete-looking set.',
    )
    .action(async (source: string, opts: BackupCliOptions) => {
      await runBackupCommand(source, opts);
    });
}

async function parseAgentKey(text: string | undefined): Promise<AuthorizedKey | string | undefined> {
  if (text === undefined) return undefined;
  if (/^SHA256:[A-Za-z0-9+/]{43}$/.test(text)) return text;
  const { loadAuthorizedKeys } = await import('../../agent/keys.js'); // with --agent only
  const keys = await loadAuthorizedKeys(text);
  if (keys.length !== 1) {
    throw new SnapcloneError('USAGE_AGENT_KEY', '--agent-key: the file must hold exactly one public key', { kind: 'usage', path: text, actual: keys.length });
  }
  return keys[0];
}

async function runBackupCommand(source: string, opts: BackupCliOptions): Promise<void> {
  const keep = opts.keep === undefined ? DEFAULT_KEEP : parseIntegerOption(opts.keep, '--keep', 1, 100000);
  const level = opts.level === undefined ? DEFAULT_LEVEL : parseIntegerOption(opts.level, '--level', 1, 9);
  const threads = opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256);
  const snapshotSizeBytes = opts.snapshotSize === undefined ? undefined : parseSizeBytes(opts.snapshotSize, '--snapshot-size');
  const rawPartitions = (opts.raw ?? []).map((r) => parseIntegerOption(r, '--raw', 0, 100000));
  const watchIntervalMs = opts.watchInterval === undefined ? undefined : parseSeconds(opts.watchInterval, '--watch-interval') * 1000;
  const abortAtPercent = opts.maxFill === undefined ? undefined : parseIntegerOption(opts.maxFill, '--max-fill', 1, 99);
  if ((opts.agent === undefined) !== (opts.key === undefined)) {
    throw new SnapcloneError('USAGE_AGENT_OPTIONS', '--agent and --key go together', { kind: 'usage', hint: 'give the agent address and the key that authenticates to it' });
  }
  if (opts.agent === undefined && (opts.agentKey !== undefined || opts.allowUnquiesced || opts.maxFreeze !== undefined)) {
    throw new SnapcloneError('USAGE_AGENT_OPTIONS', '--agent-key, --allow-unquiesced and --max-freeze need --agent', { kind: 'usage' });
  }
  const progress = progressFromOptions(opts);
  const agent =
    opts.agent !== undefined && opts.key !== undefined
      ? {
          address: opts.agent,
          identity: await (await import('../../agent/keys.js')).loadIdentity(opts.key),
          allowUnquiesced: !!opts.allowUnquiesced,
          ...(opts.agentKey === undefined ? {} : { agentKey: await parseAgentKey(opts.agentKey) }),
          ...(opts.maxFreeze === undefined ? {} : { maxFreezeSeconds: parseSeconds(opts.maxFreeze, '--max-freeze') }),
        }
      : undefined;
  const report = await runBackup({
    source,
    destDir: opts.dest,
    label: opts.name,
    keep,
    snapshotSizeBytes,
    level,
    threads,
    force: !!opts.force,
    rawPartitions,
    ...(agent ? { agent } : {}),
    stateDir: resolveStateDir(opts.stateDir),
    lvm: new Lvm(),
    watch: { ...(watchIntervalMs === undefined ? {} : { intervalMs: watchIntervalMs }), ...(abortAtPercent === undefined ? {} : { abortAtPercent }) },
    progress,
    tool: { name: 'snapclone', version: TOOL_VERSION },
  });
  if (opts.json) process.stdout.write(`${JSON.stringify(jsonReport(report))}\n`);
}

function jsonReport(r: BackupReport): Record<string, unknown> {
  return {
    set: r.setPath,
    name: r.setName,
    label: r.manifest.label,
    consistency: r.manifest.consistency,
    quiesce: r.manifest.quiesce ?? null,
    sizeBytes: r.manifest.files.reduce((n, f) => n + f.sizeBytes, 0),
    files: r.manifest.files,
    partitions: r.manifest.partitions.map((p) => ({ number: p.number, filesystem: p.filesystem, image: p.image, imageBytes: p.imageBytes })),
    rotation: { deleted: r.rotation.deleted.map((s) => s.name), kept: r.rotation.kept.map((s) => s.name) },
    recovery: { removedCount: r.recovery.removedCount, failedCount: r.recovery.failedCount },
    warnings: r.warnings,
    timings: r.manifest.timings,
  };
}
