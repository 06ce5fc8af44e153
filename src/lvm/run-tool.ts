// Runs an external system tool (lvm, dmsetup) without a shell: a timeout, bounded output, and coded
// errors that carry the command line, exit status and the tail of stderr. Spec: prompts, "The LVM layer".

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SnapcloneError } from '../core/errors.js';

/** Which Debian package provides each tool, for the "not installed" hint. */
const DEBIAN_PACKAGE: Record<string, string> = {
  lvm: 'lvm2',
  dmsetup: 'dmsetup',
  kpartx: 'kpartx',
};

/** Tools live in sbin; cron and sudo may leave those out of PATH. */
const EXTRA_DIRECTORIES = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** LVM reports are small; anything larger than this is not a report we should hold in memory. */
const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

const STDERR_TAIL_CHARS = 2000;

export interface ToolResult {
  stdout: string;
  stderr: string;
  /** 0 normally; set when the caller allowed a failing status (`okStatuses`). */
  exitStatus: number;
}

export interface RunToolOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Exit statuses that are not failures (lvs exits 5 when one of several names is missing). */
  okStatuses?: number[];
  signal?: AbortSignal;
}

/** A tool ran and failed: LVM_COMMAND_FAILED or LVM_COMMAND_TIMEOUT, with what it said. */
export class ToolError extends SnapcloneError {
  constructor(
    code: string,
    message: string,
    readonly commandLine: string,
    readonly exitStatus: number | null,
    readonly stderr: string,
    readonly stdout: string,
    hint?: string,
    cause?: unknown,
  ) {
    super(code, message, { kind: 'external', hint, cause });
  }
}

/** The absolute path of `tool` on PATH or in the sbin directories, or undefined. */
export function findTool(tool: string, pathVariable: string = process.env['PATH'] ?? ''): string | undefined {
  if (tool.includes('/')) return isExecutable(tool) ? tool : undefined;
  const dirs = [...pathVariable.split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRECTORIES];
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `lvm lvs -o lv_name vg0`: quotes only arguments that need it, for messages. */
export function formatCommandLine(tool: string, args: readonly string[]): string {
  return [tool, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The last lines of a tool's stderr, enough to see why it failed. */
export function stderrTail(stderr: string): string {
  const trimmed = stderr.trim();
  return trimmed.length <= STDERR_TAIL_CHARS ? trimmed : `...${trimmed.slice(-STDERR_TAIL_CHARS)}`;
}

/**
 * Runs `tool args...` and resolves with its output. Fails with LVM_NOT_FOUND when the tool is not
 * installed, LVM_COMMAND_TIMEOUT after `timeoutMs`, LVM_COMMAND_FAILED on any other failure.
 */
export function runTool(tool: string, args: readonly string[], options: RunToolOptions = {}): Promise<ToolResult> {
  const commandLine = formatCommandLine(tool, args);
  const path = findTool(tool);
  if (path === undefined) {
    const name = tool.split('/').pop() ?? tool;
    const pkg = DEBIAN_PACKAGE[name];
    return Promise.reject(
      new SnapcloneError('LVM_NOT_FOUND', `${name} is not installed (needed to run: ${commandLine})`, {
        kind: 'external',
        hint: pkg ? `install it: apt-get install ${pkg}` : `install the package that provides ${name}`,
      }),
    );
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      path,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_OUTPUT_BYTES,
        encoding: 'utf8',
        // LC_ALL=C: messages we match on (busy, not found) are the untranslated ones.
        env: { ...process.env, LC_ALL: 'C', LVM_SUPPRESS_FD_WARNINGS: '1', ...options.env },
        signal: options.signal,
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr, exitStatus: 0 });
          return;
        }
        const e = error as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string };
        if (typeof e.code === 'number' && options.okStatuses?.includes(e.code)) {
          resolve({ stdout, stderr, exitStatus: e.code });
          return;
        }
        if (e.code === 'ENOENT' || e.code === 'EACCES') {
          reject(
            new SnapcloneError('LVM_NOT_FOUND', `cannot run ${path}: ${e.message}`, {
              kind: 'external',
              hint: `check that ${path} is installed and executable`,
              cause: e,
            }),
          );
          return;
        }
        if (e.code === 'ABORT_ERR') {
          reject(new SnapcloneError('LVM_COMMAND_ABORTED', `${commandLine} was interrupted`, { kind: 'interrupted', cause: e }));
          return;
        }
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          reject(
            new ToolError('LVM_COMMAND_FAILED', `${commandLine} wrote more than ${MAX_OUTPUT_BYTES} bytes`, commandLine, null, '', '', undefined, e),
          );
          return;
        }
        const tail = stderrTail(stderr);
        if (e.killed && e.signal === 'SIGKILL' && e.code === null) {
          reject(
            new ToolError(
              'LVM_COMMAND_TIMEOUT',
              `${commandLine} did not finish within ${timeoutMs / 1000} s and was killed${tail ? `: ${tail}` : ''}`,
              commandLine,
              null,
              stderr,
              stdout,
              'LVM may be waiting for a lock or a suspended device; check `dmsetup info` and running LVM commands',
              e,
            ),
          );
          return;
        }
        const status = typeof e.code === 'number' ? e.code : null;
        const how = status !== null ? `exit status ${status}` : `signal ${e.signal ?? 'unknown'}`;
        reject(
          new ToolError(
            'LVM_COMMAND_FAILED',
            `${commandLine} failed (${how})${tail ? `: ${tail}` : ''}`,
            commandLine,
            status,
            stderr,
            stdout,
            undefined,
            e,
          ),
        );
      },
    );
    // No tool may wait for an answer on stdin ("Proceed? [y/n]"): end of input answers no at once.
    child.stdin?.end();
  });
}
