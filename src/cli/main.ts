#!/usr/bin/env node
// snapclone's command line: parses arguments with commander, runs one command, maps errors to the
// documented exit statuses, and cleans up (temporary outputs, snapshots) on SIGINT and SIGTERM.

import { Command, CommanderError } from 'commander';
import { isSnapcloneError, SnapcloneError } from '../core/errors.js';
import { runShutdownHooks } from '../io/shutdown.js';
import { COMMANDS, commandsFor, type CommandEntry } from './commands/index.js';
import { EXIT_STATUS } from './exit-codes.js';
import { TOOL_VERSION } from './version.js';

/**
 * The program with the given commands registered (default: all). main() registers only those the
 * arguments need, so that a run loads the import tree of its own command only.
 */
export async function buildProgram(commands: readonly CommandEntry[] = COMMANDS): Promise<Command> {
  const registers = await Promise.all(commands.map((c) => c.load()));
  const program = new Command('snapclone')
    .description('Back up and restore virtual machines on LVM: NTFS images as ntfsclone writes them, in-process bzip2, partition layouts.')
    .version(TOOL_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of registers) register(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

/** Prints an error the way every command does: code, message, hint. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander has already printed its message (or the help/version text).
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return EXIT_STATUS.usage;
  }
  if (isSnapcloneError(e)) {
    process.stderr.write(`snapclone: error ${e.code}: ${e.message}\n`);
    if (e.hint) process.stderr.write(`snapclone: hint: ${e.hint}\n`);
    if (process.env['SNAPCLONE_DEBUG'] && e.cause) process.stderr.write(`${String((e.cause as Error).stack ?? e.cause)}\n`);
    return EXIT_STATUS[e.kind];
  }
  const err = e as Error;
  process.stderr.write(`snapclone: internal error: ${err?.stack ?? String(e)}\n`);
  return EXIT_STATUS.internal;
}

/**
 * Removes the temporary outputs of atomic files still open. Loaded on demand (node:crypto and all):
 * if no command loaded atomic-file.js, there is nothing to remove.
 */
async function removePendingTemporaries(): Promise<string[]> {
  return (await import('../io/atomic-file.js')).removePendingTemporaries();
}

let interrupted = false;

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  if (interrupted) return; // a second signal while cleaning up: keep cleaning up
  interrupted = true;
  process.stderr.write(`\nsnapclone: ${signal} received, cleaning up...\n`);
  const results = await runShutdownHooks();
  for (const r of results) {
    if (r.error) process.stderr.write(`snapclone: cleanup "${r.name}" failed: ${String((r.error as Error).message ?? r.error)}\n`);
    else process.stderr.write(`snapclone: cleaned up: ${r.name}\n`);
  }
  const removed = await removePendingTemporaries();
  for (const p of removed) process.stderr.write(`snapclone: removed unfinished ${p}\n`);
  process.exit(EXIT_STATUS.interrupted);
}

export async function main(argv: string[]): Promise<number> {
  process.on('SIGINT', (s) => void onSignal(s));
  process.on('SIGTERM', (s) => void onSignal(s));
  process.on('SIGHUP', (s) => void onSignal(s)); // a closed terminal must not leave temporaries behind
  // A closed stdout (`snapclone ... | head`) is not a crash.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_STATUS.io);
  });
  try {
    let args = argv;
    if (argv[2] === 'bzip2') {
      const { rewriteLevelFlags } = await import('./commands/bzip2.js'); // loaded for the command anyway
      args = [...argv.slice(0, 3), ...rewriteLevelFlags(argv.slice(3))];
    }
    const program = await buildProgram(commandsFor(args.slice(2)));
    await program.parseAsync(args);
    return 0;
  } catch (e) {
    const status = reportError(e);
    if (!(e instanceof CommanderError)) {
      await runShutdownHooks();
      await removePendingTemporaries();
    }
    return status;
  }
}

// Run when executed directly (not when imported by tests).
const invokedPath = process.argv[1] ?? '';
if (invokedPath.endsWith('/cli/main.js') || invokedPath.endsWith('/snapclone')) {
  main(process.argv).then(
    (status) => {
      process.exitCode = status;
    },
    (e: unknown) => {
      process.exitCode = reportError(e instanceof SnapcloneError ? e : e);
    },
  );
}
