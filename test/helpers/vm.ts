// Runs a job script in the VM harness (test/e2e/vm/run-in-vm.sh) from a vitest test: a fresh WORKDIR,
// the job's exit status, its console and the harness's timings. SNAPCLONE_SKIP_VM=1 skips VM tests
// (loudly) on machines that cannot run QEMU; CI runs them.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, runCommand } from './cli.js';
import { makeTempDir } from './tmp.js';

export const VM_HARNESS = join(REPO_ROOT, 'test', 'e2e', 'vm', 'run-in-vm.sh');
export const SKIP_VM = process.env['SNAPCLONE_SKIP_VM'] === '1';
if (SKIP_VM) console.warn('\n*** SNAPCLONE_SKIP_VM=1: the VM tests on real LVM are SKIPPED ***\n');

export interface VmRun {
  /** The job's exit status (124: timeout, 125: the VM could not start). */
  status: number | null;
  /** The VM's WORKDIR, where the job wrote its results. */
  workDir: string;
  console: string;
  harnessStderr: string;
  timings: { exit: number; bootSeconds: number | null; jobSeconds: number | null; wallSeconds: number } | undefined;
  /** Reads a result file from WORKDIR. */
  read(name: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** Writes `script` as WORKDIR/job.sh and runs it in the VM. */
export async function runInVm(script: string, options: { timeoutSeconds?: number; env?: Record<string, string> } = {}): Promise<VmRun> {
  const { dir: workDir, cleanup } = await makeTempDir('snapclone-vm-');
  const job = join(workDir, 'job.sh');
  await writeFile(job, script, { mode: 0o755 });
  const timeoutSeconds = options.timeoutSeconds ?? 600;
  const r = await runCommand('bash', [VM_HARNESS, job, workDir], {
    env: { VM_TIMEOUT: String(timeoutSeconds), ...options.env },
    timeoutMs: (timeoutSeconds + 120) * 1000,
  });
  const read = (name: string): Promise<string> => readFile(join(workDir, name), 'utf8');
  const timings = await read('run-in-vm.json').then(
    (t) => JSON.parse(t) as VmRun['timings'],
    () => undefined,
  );
  return {
    status: r.status,
    workDir,
    console: r.stdout.toString('utf8'),
    harnessStderr: r.stderr,
    timings,
    read,
    cleanup: process.env['SNAPCLONE_KEEP_VM_WORK'] === '1' ? async () => {} : cleanup,
  };
}

/** A failure message with the end of the VM console, for expect(...).toBe(0) on the status. */
export function vmFailure(run: VmRun): string {
  const tail = run.console.split('\n').slice(-40).join('\n');
  return `VM job failed with status ${run.status} (WORKDIR ${run.workDir}):\n${run.harnessStderr}\n--- console tail ---\n${tail}`;
}
