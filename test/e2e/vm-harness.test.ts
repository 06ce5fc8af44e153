// The VM harness itself: a job runs as root with device-mapper, sees the host read-only, writes its
// results to WORKDIR, and its exit status comes back; timeouts and bad arguments fail clearly.

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCommand } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { runInVm, SKIP_VM, VM_HARNESS, vmFailure, type VmRun } from '../helpers/vm.js';

describe.skipIf(SKIP_VM)('run-in-vm.sh', () => {
  let run: VmRun;
  const marker = `/tmp/snapclone-vm-marker-${process.pid}`;

  beforeAll(async () => {
    run = await runInVm(
      [
        'set -u',
        'id -u > uid.txt',
        'dmsetup version > dm.txt 2>&1; echo $? > dm.status',
        `test -r ${REPO_ROOT}/package.json && echo yes > sees-checkout.txt`,
        `touch ${marker}`, // outside WORKDIR: must vanish with the VM
        'echo "to stdout"; echo "to stderr" >&2',
        'exit 7',
      ].join('\n'),
      { timeoutSeconds: 300 },
    );
  }, 420_000);

  afterAll(async () => {
    await run?.cleanup();
  });

  it('returns the job exit status and its output', () => {
    expect(run.status, vmFailure(run)).toBe(7);
    expect(run.console).toContain('to stdout');
    expect(run.console).toContain('to stderr');
  });

  it('runs the job as root with a working device-mapper and the host checkout visible', async () => {
    expect((await run.read('uid.txt')).trim()).toBe('0');
    expect((await run.read('dm.status')).trim()).toBe('0');
    expect(await run.read('dm.txt')).toMatch(/Driver version/);
    expect((await run.read('sees-checkout.txt')).trim()).toBe('yes');
  });

  it('keeps writes outside WORKDIR inside the VM', () => {
    expect(existsSync(marker)).toBe(false);
  });

  it('writes the console, kernel log and timings to WORKDIR', async () => {
    expect(await run.read('run-in-vm.log')).toContain('to stdout');
    expect(await run.read('run-in-vm.dmesg')).toMatch(/Linux version/);
    expect(run.timings?.exit).toBe(7);
    expect(run.timings?.bootSeconds).toBeGreaterThan(0);
    expect(run.timings?.jobSeconds).toBeGreaterThanOrEqual(0);
    console.log(`VM harness: boot ${run.timings?.bootSeconds} s, job ${run.timings?.jobSeconds} s, wall ${run.timings?.wallSeconds} s`);
  });

  it('stops a VM that runs past VM_TIMEOUT with status 124', async () => {
    const slow = await runInVm('sleep 600', { timeoutSeconds: 2 });
    try {
      expect(slow.status, vmFailure(slow)).toBe(124);
      expect(slow.harnessStderr).toContain('VM_TIMEOUT');
      expect(slow.timings?.exit).toBe(124);
    } finally {
      await slow.cleanup();
    }
  }, 120_000);

  it('refuses a job outside WORKDIR with status 125 before starting a VM', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const r = await runCommand('bash', [VM_HARNESS, `${REPO_ROOT}/package.json`, dir]);
      expect(r.status).toBe(125);
      expect(r.stderr).toContain('must lie inside WORKDIR');
      const missing = await runCommand('bash', [VM_HARNESS, `${dir}/no-such-job.sh`]);
      expect(missing.status).toBe(125);
    } finally {
      await cleanup();
    }
  });
});
