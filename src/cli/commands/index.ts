// Every CLI command, in the order `snapclone --help` lists them. Each module adds itself to the
// program and does its work through the layers below; only src/cli prints or exits.
//
// Modules are loaded on demand: a run of one command loads that command's import tree only
// (`snapclone bzip2` never loads NTFS, LVM or the agent), `--version` loads none; help and
// unknown commands load them all. `name` must be the name the module registers (a test checks it).

import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export interface CommandEntry {
  /** The command word, as the module registers it. */
  name: string;
  load(): Promise<RegisterCommand>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'demo', load: async () => (await import('./demo.js')).registerDemo },
  { name: 'save-image', load: async () => (await import('./save-image.js')).registerSaveImage },
  { name: 'restore-image', load: async () => (await import('./restore-image.js')).registerRestoreImage },
  { name: 'info', load: async () => (await import('./info.js')).registerInfo },
  { name: 'layout', load: async () => (await import('./layout.js')).registerLayout },
  { name: 'bzip2', load: async () => (await import('./bzip2.js')).registerBzip2 },
  { name: 'cleanup', load: async () => (await import('./cleanup.js')).registerCleanup },
  { name: 'keygen', load: async () => (await import('./keygen.js')).registerKeygen },
  { name: 'agent', load: async () => (await import('./agent.js')).registerAgent },
  { name: 'backup', load: async () => (await import('./backup.js')).registerBackup },
  { name: 'restore', load: async () => (await import('./restore.js')).registerRestore },
  { name: 'verify', load: async () => (await import('./verify.js')).registerVerify },
  { name: 'list', load: async () => (await import('./list.js')).registerList },
  { name: 'import', load: async () => (await import('./import.js')).registerImport },
];

/**
 * The commands a run with these arguments (argv without node and script) needs: the named command
 * alone when the first argument is one, none for a bare --version, else all (help, errors).
 */
export function commandsFor(args: readonly string[]): CommandEntry[] {
  const first = args[0];
  if (first === '-V' || first === '--version') return [];
  const named = COMMANDS.find((c) => c.name === first);
  return named ? [named] : COMMANDS;
}
