// Running external tools: real programs (lvm itself, sleep, cat) rather than mocks.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findTool, formatCommandLine, runTool, stderrTail, ToolError } from '../../src/lvm/run-tool.js';
import { Lvm } from '../../src/lvm/lvm.js';

async function failure(p: Promise<unknown>): Promise<ToolError & { code: string }> {
  try {
    await p;
  } catch (e) {
    return e as ToolError & { code: string };
  }
  throw new Error('expected a failure');
}

describe('runTool', () => {
  it('returns the output of a tool that succeeds', async () => {
    const r = await runTool('lvm', ['version']);
    expect(r.exitStatus).toBe(0);
    expect(r.stdout).toMatch(/LVM version:\s+2\./);
  });

  it('fails with LVM_NOT_FOUND and the Debian package when the tool is missing', async () => {
    const e = await failure(runTool('snapclone-no-such-tool', ['x']));
    expect(e.code).toBe('LVM_NOT_FOUND');
    expect(e.kind).toBe('external');
    const lvm = await failure(runTool('/nonexistent/lvm', []));
    expect(lvm.code).toBe('LVM_NOT_FOUND');
    expect(lvm.hint).toContain('lvm2');
  });

  it('fails with LVM_COMMAND_FAILED carrying the command line, exit status and stderr', async () => {
    const oracle = spawnSync('lvm', ['lvs', '--no-such-option'], { encoding: 'utf8', env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' } });
    const e = await failure(runTool('lvm', ['lvs', '--no-such-option']));
    expect(e).toBeInstanceOf(ToolError);
    expect(e.code).toBe('LVM_COMMAND_FAILED');
    expect(e.kind).toBe('external');
    expect(e.exitStatus).toBe(oracle.status);
    expect(e.commandLine).toBe('lvm lvs --no-such-option');
    expect(e.stderr).toBe(oracle.stderr);
    expect(e.message).toContain(stderrTail(oracle.stderr).split('\n')[0]!);
  });

  it('accepts exit statuses the caller allows', async () => {
    const r = await runTool('sh', ['-c', 'echo out; echo err >&2; exit 5'], { okStatuses: [5] });
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', exitStatus: 5 });
  });

  it('kills a tool that runs past the timeout: LVM_COMMAND_TIMEOUT', async () => {
    const started = Date.now();
    const e = await failure(runTool('sleep', ['30'], { timeoutMs: 300 }));
    expect(e.code).toBe('LVM_COMMAND_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('gives tools an empty stdin, so a prompt can never hang', async () => {
    const started = Date.now();
    const r = await runTool('sh', ['-c', 'read answer; echo "answer=[$answer]"'], { timeoutMs: 20_000 });
    expect(r.stdout).toBe('answer=[]\n');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('finds tools in sbin directories when PATH lacks them', () => {
    expect(findTool('lvm', '/nonexistent')).toMatch(/\/s?bin\/lvm$/);
    expect(findTool('snapclone-no-such-tool', '/usr/bin')).toBeUndefined();
  });

  it('quotes arguments in command lines only where needed', () => {
    expect(formatCommandLine('lvm', ['lvs', '-o', 'lv_name,lv_size', "it's here", '@snapclone'])).toBe(`lvm lvs -o lv_name,lv_size 'it'\\''s here' @snapclone`);
  });

  it('keeps the tail of a long stderr', () => {
    const tail = stderrTail(`${'x'.repeat(5000)}END\n`);
    expect(tail.endsWith('END')).toBe(true);
    expect(tail.length).toBeLessThanOrEqual(2003);
  });
});

describe('Lvm on this host', () => {
  const lvm = new Lvm();
  /** Whether the kernel's device-mapper answers here, by asking dmsetup directly. */
  const hostHasDm = spawnSync('dmsetup', ['version']).status === 0;

  it('reports a missing VG or LV as absent, not as a failure', async () => {
    expect(await lvm.findLv('snapclone-test-no-such-vg', 'lv')).toBeUndefined();
    expect(await lvm.findVg('snapclone-test-no-such-vg')).toBeUndefined();
  });

  it('tells whether device-mapper works, as dmsetup does', async () => {
    const problem = await lvm.deviceMapperProblem();
    expect(problem === undefined).toBe(hostHasDm);
    if (!hostHasDm) await expect(lvm.assertDeviceMapper()).rejects.toMatchObject({ code: 'LVM_NO_DEVICE_MAPPER', kind: 'external' });
  });
});
