// `snapclone cleanup`: removes what killed runs left behind (snapshots found by journal and by tag,
// partition maps on them, unfinished sets, stale locks) and reports each. Spec: issue 5 (prompts).

import type { Command } from 'commander';
import { SnapcloneError } from '../../core/errors.js';
import { recoverLeftovers } from '../../backup/recover-leftovers.js';
import { removeAbandonedSets } from '../../backup/prune-sets.js';
import { resolveStateDir, STATE_DIR_ENV, DEFAULT_STATE_DIR } from '../../backup/state-dir.js';
import { Lvm } from '../../lvm/lvm.js';

interface CleanupOptions {
  stateDir?: string;
  dest?: string[];
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerCleanup(program: Command): void {
  program
    .command('cleanup')
    .description('remove snapshots, partition maps, unfinished sets and locks that interrupted runs left behind')
    .option('--state-dir <dir>', `where locks and journals live (default: $${STATE_DIR_ENV}, or ${DEFAULT_STATE_DIR} for root, ~/.local/state/snapclone for others)`)
    .option('--dest <dir>', 'also remove the unfinished sets of dead runs found in this backup directory (repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('-n, --dry-run', 'only report what would be removed')
    .option('--json', 'print the report as one JSON object on stdout')
    .option('-q, --quiet', 'print nothing but errors')
    .addHelpText(
      'after',
      '\nRuns of snapclone that are still alive, and snapshots of LVs they lock, are left alone.\n' +
        'With --dest, unfinished sets in that directory whose run is dead are removed too (sets being\n' +
        'written by live runs, here or on another host sharing the directory, are left alone).\n' +
        'Exit status 6 when something could not be removed.\n\nExamples:\n  snapclone cleanup --dry-run\n  snapclone cleanup --json\n  snapclone cleanup --dest /srv/backups',
    )
    .action(async (opts: CleanupOptions) => {
      await runCleanup(opts);
    });
}

async function runCleanup(opts: CleanupOptions): Promise<void> {
  const stateDir = resolveStateDir(opts.stateDir);
  const log = opts.quiet ? undefined : (line: string): void => void process.stderr.write(`${line}\n`);
  const report = await recoverLeftovers(stateDir, { lvm: new Lvm(), dryRun: !!opts.dryRun, log });
  // Then the destinations: temporaries no journal lists (a lost state directory, another --state-dir).
  for (const dest of opts.dest ?? []) {
    const found = await removeAbandonedSets(dest, { dryRun: !!opts.dryRun, log });
    report.actions.push(...found);
    report.removedCount += found.filter((a) => a.outcome === 'removed' || a.outcome === 'would-remove').length;
    report.failedCount += found.filter((a) => a.outcome === 'failed').length;
  }
  if (opts.json) process.stdout.write(`${JSON.stringify({ stateDir, dryRun: !!opts.dryRun, ...report })}\n`);
  if (!opts.quiet) {
    const what = opts.dryRun ? 'would remove' : 'removed';
    const summary =
      report.removedCount === 0 && report.failedCount === 0
        ? 'cleanup: nothing left behind'
        : `cleanup: ${what} ${report.removedCount} leftover${report.removedCount === 1 ? '' : 's'}` +
          (report.failedCount > 0 ? `, ${report.failedCount} failed` : '');
    const live = report.liveRuns.length > 0 ? ` (${report.liveRuns.length} run${report.liveRuns.length === 1 ? '' : 's'} in progress left alone)` : '';
    process.stderr.write(`${summary}${live}\n`);
  }
  if (report.failedCount > 0) {
    const first = report.actions.find((a) => a.outcome === 'failed');
    throw new SnapcloneError('SET_CLEANUP_INCOMPLETE', `${report.failedCount} leftover${report.failedCount === 1 ? '' : 's'} could not be removed`, {
      kind: 'external',
      actual: first ? `${first.kind} ${first.target}: ${first.code ?? ''} ${first.detail ?? ''}`.trim() : undefined,
      hint: 'fix the cause shown above and run `snapclone cleanup` again',
    });
  }
}
