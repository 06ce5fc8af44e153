// The handle every LVM operation goes through: runs `lvm <command>` and `dmsetup` with one timeout
// policy and parses their JSON reports. Spec: lvm(8), lvs(8), lvmreport(7), dmsetup(8).

import { SnapcloneError } from '../core/errors.js';
import { LV_FIELDS, parseLvReport, parseVgReport, VG_FIELDS, type LvInfo, type VgInfo } from './lvm-report.js';
import { runTool, stderrTail, ToolError, type ToolResult } from './run-tool.js';

export interface LvmOptions {
  /** Per command; LVM can wait on its locks, so this is generous. Default 120 s. */
  timeoutMs?: number;
  /** Extra environment for every tool (tests set LVM_SYSTEM_DIR and the like). */
  env?: Record<string, string>;
}

/** lvs/vgs exit with 5 (ECMD_FAILED) when some named VG or LV does not exist, after printing the rest. */
const EXIT_SOME_NOT_FOUND = 5;
const NOT_FOUND_MESSAGE = /not found|Failed to find|does not exist/i;

export class Lvm {
  readonly timeoutMs: number;
  private readonly env: Record<string, string> | undefined;

  constructor(options: LvmOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.env = options.env;
  }

  /** `lvm <command> args...`. */
  run(command: string, args: readonly string[], okStatuses?: number[]): Promise<ToolResult> {
    return runTool('lvm', [command, ...args], { timeoutMs: this.timeoutMs, env: this.env, okStatuses });
  }

  dmsetup(args: readonly string[]): Promise<ToolResult> {
    return runTool('dmsetup', args, { timeoutMs: this.timeoutMs, env: this.env });
  }

  /**
   * LVs matching `selectors` (VG names, VG/LV names, @tags; none: all). Names that do not exist are
   * left out, as lvs does; any other failure throws.
   */
  async listLvs(selectors: readonly string[]): Promise<LvInfo[]> {
    const result = await this.run(
      'lvs',
      ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', LV_FIELDS.join(','), '--', ...selectors],
      [EXIT_SOME_NOT_FOUND],
    );
    if (result.exitStatus === EXIT_SOME_NOT_FOUND && !NOT_FOUND_MESSAGE.test(result.stderr)) {
      throw failedReport('lvs', selectors, result);
    }
    return parseLvReport(result.stdout);
  }

  /** The LV VG/LV, or undefined when the VG or the LV does not exist. */
  async findLv(vg: string, lv: string): Promise<LvInfo | undefined> {
    return (await this.listLvs([`${vg}/${lv}`])).find((x) => x.vgName === vg && x.name === lv);
  }

  /** VGs by name (none: all); missing names are left out. */
  async listVgs(names: readonly string[] = []): Promise<VgInfo[]> {
    const result = await this.run(
      'vgs',
      ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', VG_FIELDS.join(','), '--', ...names],
      [EXIT_SOME_NOT_FOUND],
    );
    if (result.exitStatus === EXIT_SOME_NOT_FOUND && !NOT_FOUND_MESSAGE.test(result.stderr)) {
      throw failedReport('vgs', names, result);
    }
    return parseVgReport(result.stdout);
  }

  async findVg(name: string): Promise<VgInfo | undefined> {
    return (await this.listVgs([name])).find((v) => v.name === name);
  }

  /**
   * Why snapshots cannot work on this machine, or undefined when the kernel's device-mapper answers.
   * Throws LVM_NOT_FOUND when dmsetup is not installed.
   */
  async deviceMapperProblem(): Promise<string | undefined> {
    try {
      await this.dmsetup(['version']);
      return undefined;
    } catch (e) {
      if (e instanceof ToolError) return stderrTail(e.stderr) || e.message;
      throw e;
    }
  }

  /** Throws LVM_NO_DEVICE_MAPPER unless the kernel's device-mapper answers. */
  async assertDeviceMapper(): Promise<void> {
    const problem = await this.deviceMapperProblem();
    if (problem !== undefined) throw noDeviceMapper(problem);
  }
}

export function noDeviceMapper(detail: string): SnapcloneError {
  return new SnapcloneError('LVM_NO_DEVICE_MAPPER', `LVM cannot work here: the kernel's device-mapper does not answer (${detail})`, {
    kind: 'external',
    hint: 'load it with `modprobe dm_mod` (and dm_snapshot), or run snapclone on the host that holds the volume group',
  });
}

function failedReport(command: string, selectors: readonly string[], result: ToolResult): ToolError {
  const line = ['lvm', command, ...selectors].join(' ');
  const tail = stderrTail(result.stderr);
  return new ToolError('LVM_COMMAND_FAILED', `${line} failed (exit status ${result.exitStatus})${tail ? `: ${tail}` : ''}`, line, result.exitStatus, result.stderr, result.stdout);
}
