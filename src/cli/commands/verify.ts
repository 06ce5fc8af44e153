// `snapclone verify SET` (or `--all DIR`, every set of a destination, for a weekly cron job): checksums,
// bzip2 CRCs, every image decoded end to end, layout consistency; exit 0 only if everything passes.
// Spec: issue 5 "verify".

import { Command, Option } from 'commander';
import { SnapcloneError } from '../../core/errors.js';
import { parseIntegerOption } from '../../core/units.js';
import { listSets } from '../../backup/set-inventory.js';
import { verifySet, type VerifyReport } from '../../backup/verify-set.js';
import type { Progress } from '../../core/progress.js';
import { progressFromOptions } from '../progress.js';

interface VerifyCliOptions {
  all?: string;
  threads?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: string;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check a backup set: SHA-256 of every file, bzip2 CRCs, every image decoded end to end, layout')
    .argument('[set]', 'the backup set directory')
    .option('--all <dir>', 'verify every set in this destination directory, newest first')
    .option('--threads <n>', 'decompression threads (default: one per core)')
    .option('--json', 'print the report as one JSON object on stdout (one line per set with --all)')
    .option('-q, --quiet', 'print nothing but the errors')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText('after', '\nExit status 0 only when every check passes; otherwise the first failure gives the error code and status.')
    .action(async (set: string | undefined, opts: VerifyCliOptions) => {
      if ((set === undefined) === (opts.all === undefined)) {
        throw new SnapcloneError('USAGE_VERIFY_WHAT', 'give one set directory, or --all DIR for every set of a destination', { kind: 'usage' });
      }
      const progress = progressFromOptions(opts);
      const threads = opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256);
      if (opts.all !== undefined) return verifyAll(opts.all, opts, threads, progress);
      const report = await verifySet(set as string, { threads, progress });
      printReport(report, opts);
      const first = report.checks.find((c) => !c.ok);
      if (first) {
        const failed = report.checks.filter((c) => !c.ok).length;
        throw new SnapcloneError(first.code ?? 'SET_VERIFY_FAILED', `${set} failed ${failed} check${failed === 1 ? '' : 's'}; first: ${first.subject} (${first.check}): ${first.message}`, {
          kind: first.kind ?? 'verify',
          hint: 'do not rely on this set; restore from another one (snapclone list) and check the storage',
        });
      }
    });
}

function printReport(report: VerifyReport, opts: VerifyCliOptions): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(jsonReport(report))}\n`);
  else if (!opts.quiet) process.stdout.write(textReport(report));
}

/**
 * Every set of DIR: complete and damaged ones are verified (a damaged one fails), unfinished ones are
 * named and skipped (`snapclone cleanup` is their business). Fails when any set fails, or when DIR
 * holds no set at all (a backup job that never ran must not look verified).
 */
async function verifyAll(dir: string, opts: VerifyCliOptions, threads: number | undefined, progress: Progress): Promise<void> {
  const entries = await listSets(dir);
  const failed: string[] = [];
  let verified = 0;
  for (const entry of entries) {
    if (entry.status !== 'complete' && entry.status !== 'damaged') {
      progress.note(`skipped ${entry.name}: ${entry.status}${entry.problem ? ` (${entry.problem.message})` : ''}`);
      continue;
    }
    const report = await verifySet(entry.path, { threads, progress });
    printReport(report, opts);
    verified++;
    if (!report.ok) failed.push(entry.name);
  }
  if (verified === 0) {
    throw new SnapcloneError('SET_NONE_FOUND', `${dir} holds no backup set to verify`, {
      kind: 'input',
      path: dir,
      hint: 'check the destination directory, and that the backups run (snapclone list DIR)',
    });
  }
  if (failed.length > 0) {
    throw new SnapcloneError('SET_VERIFY_FAILED', `${failed.length} of ${verified} sets in ${dir} failed verification: ${failed.join(', ')}`, {
      kind: 'verify',
      hint: 'do not rely on those sets; run snapclone verify on each for the details, and check the storage',
    });
  }
  if (!opts.quiet && !opts.json) process.stdout.write(`${dir}: all ${verified} set${verified === 1 ? '' : 's'} verified\n`);
}

function jsonReport(r: VerifyReport): Record<string, unknown> {
  return {
    set: r.set,
    ok: r.ok,
    label: r.manifest?.label ?? null,
    createdAt: r.manifest?.createdAt ?? null,
    consistency: r.manifest?.consistency ?? null,
    checks: r.checks,
    extraFiles: r.extraFiles,
  };
}

function textReport(r: VerifyReport): string {
  const lines = r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.subject} ${c.check}: ${c.ok ? c.message : `${c.code}: ${c.message}`}`);
  for (const f of r.extraFiles) lines.push(`note ${f}: not listed in the manifest (ignored)`);
  const failed = r.checks.filter((c) => !c.ok).length;
  lines.push(failed === 0 ? `${r.set}: all ${r.checks.length} checks passed` : `${r.set}: ${failed} of ${r.checks.length} checks FAILED`);
  return `${lines.join('\n')}\n`;
}
