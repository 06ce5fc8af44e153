// `snapclone verify SET`: checksums, bzip2 CRCs, every image decoded end to end, layout consistency;
// exit 0 only if everything passes. Spec: issue 5 (prompts) "verify".

import { Command, Option } from 'commander';
import { SnapcloneError } from '../../core/errors.js';
import { parseIntegerOption } from '../../core/units.js';
import { verifySet, type VerifyReport } from '../../backup/verify-set.js';
import { progressFromOptions } from '../progress.js';

interface VerifyCliOptions {
  threads?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: string;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check a backup set: SHA-256 of every file, bzip2 CRCs, every image decoded end to end, layout')
    .argument('<set>', 'the backup set directory')
    .option('--threads <n>', 'decompression threads (default: one per core)')
    .option('--json', 'print the report as one JSON object on stdout')
    .option('-q, --quiet', 'print nothing but the errors')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'json', 'none']))
    .addHelpText('after', '\nExit status 0 only when every check passes; otherwise the first failure gives the error code and status.')
    .action(async (set: string, opts: VerifyCliOptions) => {
      const progress = progressFromOptions(opts);
      const report = await verifySet(set, {
        threads: opts.threads === undefined ? undefined : parseIntegerOption(opts.threads, '--threads', 1, 256),
        progress,
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(jsonReport(report))}\n`);
      else if (!opts.quiet) process.stdout.write(textReport(report));
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
