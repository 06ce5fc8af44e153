// The agent commands end to end: `snapclone agent serve` as a child process (configuration file plus
// overriding flags, JSON logs), driven by `snapclone agent freeze|thaw|status` and `snapclone keygen`.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { waitFor } from './harness.js';

interface Served {
  child: ChildProcess;
  port: number;
  logLines: () => Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts `snapclone agent serve ...` and resolves once it logged the port it listens on. */
function serve(args: string[]): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'agent', 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const logLines = (): Record<string, unknown>[] =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    child.stderr!.on('data', (b: Buffer) => {
      text += b.toString();
      const listening = logLines().find((e) => e['event'] === 'listening');
      if (listening) resolve({ child, port: listening['port'] as number, logLines, exited });
    });
    void exited.then((code) => reject(new Error(`agent serve exited with ${code}: ${text}`)));
  });
}

let dir = '';
let cleanup: () => Promise<void> = async () => {};
let agent: Served;
let address = '';
const events = async (): Promise<string[]> => (await readFile(join(dir, 'events.log'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('snapclone-agent-cli-'));
  for (const name of ['hv.key', 'host.key', 'stranger.key']) {
    expect((await runCli(['keygen', '-q', '-o', join(dir, name)])).status).toBe(0);
  }
  const events = join(dir, 'events.log');
  await writeFile(
    join(dir, 'agent.json'),
    JSON.stringify({
      listen: '127.0.0.9:0', // overridden by --listen below
      authorizedKeys: ['hv.key.pub'],
      hostKey: 'host.key',
      allow: ['127.0.0.1'],
      freezeCmd: `echo "freeze $SNAPCLONE_AGENT_REASON" >> '${events}'; echo services stopped`,
      thawCmd: `echo "thaw $SNAPCLONE_AGENT_REASON" >> '${events}'`,
      maxFreezeSeconds: 20,
      name: 'guest-under-test',
    }),
  );
  agent = await serve(['--config', join(dir, 'agent.json'), '--listen', '127.0.0.1:0', '--log', 'json']);
  address = `127.0.0.1:${agent.port}`;
});

afterAll(async () => {
  if (agent && agent.child.exitCode === null) {
    agent.child.kill('SIGKILL');
    await agent.exited.catch(() => undefined);
  }
  await cleanup();
});

describe('snapclone agent (CLI)', () => {
  it('serves with the configuration file, flags overriding it, and logs JSON lines', () => {
    const listening = agent.logLines().find((e) => e['event'] === 'listening')!;
    expect(listening['address']).toBe(address);
    expect(listening['maxFreezeSeconds']).toBe(20);
    expect(listening['allow']).toEqual(['127.0.0.1']);
    expect(typeof listening['hostKey']).toBe('string');
  });

  it('status, freeze, freeze again, thaw, thaw again: exit statuses and reports', async () => {
    const key = ['--key', join(dir, 'hv.key')];
    const pin = ['--agent-key', join(dir, 'host.key.pub')];
    const status = await runCli(['agent', 'status', address, ...key, ...pin]);
    expect(status.status).toBe(0);
    expect(status.stdout.toString()).toContain('state: thawed');
    expect(status.stdout.toString()).toContain('guest-under-test');
    expect(status.stdout.toString()).toContain('(pinned)');

    const freeze = await runCli(['agent', 'freeze', address, ...key, ...pin]);
    expect(freeze.status).toBe(0);
    const out = freeze.stdout.toString();
    expect(out).toContain('freeze command: exit status 0');
    expect(out).toContain('  | services stopped');
    expect(out).toMatch(/watchdog deadline: \S+Z \(in \d+\.\d s\)/);
    expect(await events()).toEqual(['freeze client']);

    const again = await runCli(['agent', 'freeze', address, ...key]);
    expect(again.status).toBe(4);
    expect(again.stderr).toContain('AGENT_ALREADY_FROZEN');
    expect(again.stdout.toString()).toContain('state: frozen since');

    const thaw = await runCli(['agent', 'thaw', address, ...key, '--json']);
    expect(thaw.status).toBe(0);
    const reply = JSON.parse(thaw.stdout.toString()) as { code: string; thawCommand: { exitCode: number }; agentHostKey: string };
    expect(reply.code).toBe('THAWED');
    expect(reply.thawCommand.exitCode).toBe(0);
    const thawAgain = await runCli(['agent', 'thaw', address, ...key, '--json']);
    expect(thawAgain.status).toBe(0);
    expect((JSON.parse(thawAgain.stdout.toString()) as { code: string }).code).toBe('NOT_FROZEN');
    expect(await events()).toEqual(['freeze client', 'thaw client']);
  });

  it('a client-requested short watchdog thaws a freeze left behind', async () => {
    const before = (await events()).length;
    const freeze = await runCli(['agent', 'freeze', address, '--key', join(dir, 'hv.key'), '--max-freeze', '0.5']);
    expect(freeze.status).toBe(0);
    await waitFor(async () => (await events()).length === before + 2, 5000);
    expect((await events()).slice(before)).toEqual(['freeze client', 'thaw watchdog']);
    expect(agent.logLines().some((e) => e['event'] === 'watchdog')).toBe(true);
  });

  it('refuses a wrong key, a wrong pinned host key and a non-allowed source address with exit 8', async () => {
    const before = await events();
    const stranger = await runCli(['agent', 'freeze', address, '--key', join(dir, 'stranger.key')]);
    expect(stranger.status).toBe(8);
    expect(stranger.stderr).toContain('AGENT_REFUSED');
    const wrongPin = await runCli(['agent', 'freeze', address, '--key', join(dir, 'hv.key'), '--agent-key', join(dir, 'stranger.key.pub')]);
    expect(wrongPin.status).toBe(8);
    expect(wrongPin.stderr).toContain('AGENT_HOST_KEY_MISMATCH');
    const elsewhere = await runCli(['agent', 'freeze', address, '--key', join(dir, 'hv.key'), '--bind', '127.0.0.2']);
    expect(elsewhere.status).toBe(8);
    expect(await events()).toEqual(before);
    const logs = agent.logLines();
    expect(logs.some((e) => e['event'] === 'auth-failed' && e['reason'] === 'unknown-key')).toBe(true);
    expect(logs.some((e) => e['event'] === 'refused' && String(e['remote']).startsWith('127.0.0.2:'))).toBe(true);
    // Logs name keys by fingerprint only, never key material.
    expect(JSON.stringify(logs)).not.toContain('PRIVATE');
  });

  it('reports usage errors with exit 2 and an unreachable agent with exit 5', async () => {
    const missing = await runCli(['agent', 'serve', '--listen', '127.0.0.1:0', '--authorized-key', join(dir, 'hv.key.pub')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('USAGE_MISSING_OPTION');
    const badAllow = await runCli(['agent', 'serve', '--config', join(dir, 'agent.json'), '--allow', '10.0.0.0/40']);
    expect(badAllow.status).toBe(2);
    expect(badAllow.stderr).toContain('USAGE_BAD_ADDRESS');
    const privateAsPublic = await runCli(['agent', 'serve', '--config', join(dir, 'agent.json'), '--authorized-key', join(dir, 'hv.key')]);
    expect(privateAsPublic.status).toBe(2);
    expect(privateAsPublic.stderr).toContain('AGENT_KEY_IS_PRIVATE');
    const unreachable = await runCli(['agent', 'status', '127.0.0.1:1', '--key', join(dir, 'hv.key')]);
    expect(unreachable.status).toBe(5);
    expect(unreachable.stderr).toContain('AGENT_UNREACHABLE');
  });

  it('flags alone (text logs): a failing freeze command exits 6 and is undone', async () => {
    const thawLog = join(dir, 'failing-thaw.log');
    const child = spawn(
      process.execPath,
      [CLI_PATH, 'agent', 'serve', '--listen', '127.0.0.1:0', '--authorized-key', join(dir, 'hv.key.pub'), '--freeze-cmd', 'echo cannot flush; exit 5', '--thaw-cmd', `echo thawed >> '${thawLog}'`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let text = '';
    child.stderr.on('data', (b: Buffer) => (text += b.toString()));
    try {
      await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(text));
      const port = /listening on 127\.0\.0\.1:(\d+)/.exec(text)![1]!;
      const r = await runCli(['agent', 'freeze', `127.0.0.1:${port}`, '--key', join(dir, 'hv.key')]);
      expect(r.status).toBe(6);
      expect(r.stderr).toContain('AGENT_FREEZE_FAILED');
      expect(r.stdout.toString()).toContain('freeze command: exit status 5');
      expect(r.stdout.toString()).toContain('  | cannot flush');
      expect(await readFile(thawLog, 'utf8')).toBe('thawed\n');
      expect(text).toMatch(/snapclone-agent warn: no --allow given/);
      expect(text).toMatch(/snapclone-agent error: the freeze command failed \(exit status 5\)/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('thaws before exiting on SIGTERM while frozen', async () => {
    const before = (await events()).length;
    expect((await runCli(['agent', 'freeze', address, '--key', join(dir, 'hv.key')])).status).toBe(0);
    agent.child.kill('SIGTERM');
    const code = await agent.exited;
    expect(code).toBe(130);
    expect((await events()).slice(before)).toEqual(['freeze client', 'thaw shutdown']);
  });
});
