// The CLI loads only the command it runs (src/cli/commands/index.ts): each lazy entry must name the
// command its module registers, and a command's help must read the same whether the program was
// built with that command alone (`snapclone X --help`) or with all of them (`snapclone help X`).

import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS, commandsFor } from '../../src/cli/commands/index.js';
import { runCli } from '../helpers/cli.js';

describe('lazily loaded CLI commands', () => {
  it('each entry registers exactly the command it is named after', async () => {
    for (const entry of COMMANDS) {
      const program = new Command('snapclone');
      (await entry.load())(program);
      expect(program.commands.map((c) => c.name())).toEqual([entry.name]);
    }
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it('picks one command for its own name, none for --version, all otherwise', () => {
    expect(commandsFor(['bzip2', '-d', 'x.bz2']).map((c) => c.name)).toEqual(['bzip2']);
    expect(commandsFor(['--version'])).toEqual([]);
    expect(commandsFor(['-V'])).toEqual([]);
    expect(commandsFor(['--help'])).toBe(COMMANDS);
    expect(commandsFor(['help', 'bzip2'])).toBe(COMMANDS);
    expect(commandsFor([])).toBe(COMMANDS);
    expect(commandsFor(['no-such-command'])).toBe(COMMANDS);
  });

  it('every command prints the same help alone as among all commands', async () => {
    for (const entry of COMMANDS) {
      const [alone, among] = await Promise.all([runCli([entry.name, '--help']), runCli(['help', entry.name])]);
      expect(alone.status, alone.stderr).toBe(0);
      expect(among.status, among.stderr).toBe(0);
      expect(alone.stdout.toString()).toContain(`Usage: snapclone ${entry.name} `);
      expect(alone.stdout.toString()).toBe(among.stdout.toString());
    }
  });

  it('the top-level help still lists every command', async () => {
    const r = await runCli(['--help']);
    expect(r.status).toBe(0);
    for (const entry of COMMANDS) expect(r.stdout.toString()).toMatch(new RegExp(`^  ${entry.name} `, 'm'));
  });
});
