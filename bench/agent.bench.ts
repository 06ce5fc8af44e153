// The quiesce agent's cost: what it adds to the freeze window and to a whole freeze/thaw cycle, timed
// against the floor (the same freeze and thaw commands run locally in the guest, no network, no auth).

import { AllowList } from '../src/agent/address.js';
import { AgentClient } from '../src/agent/agent-client.js';
import { AgentServer } from '../src/agent/agent-server.js';
import { runHookCommand, type HookCommand } from '../src/agent/hook-command.js';
import { generateIdentity, parseAuthorizedKeys } from '../src/agent/keys.js';
import { printTable, type CaseTiming } from './support.js';

const ROUNDS = 40;

export async function run(): Promise<void> {
  const hv = generateIdentity('bench');
  const freezeCommand: HookCommand = { shell: 'true' };
  const thawCommand: HookCommand = { shell: 'true' };
  const server = await AgentServer.start({
    listen: { host: '127.0.0.1', port: 0 },
    authorizedKeys: parseAuthorizedKeys(hv.publicLine),
    allow: new AllowList(['127.0.0.0/8']),
    freezeCommand,
    thawCommand,
  });
  const address = `127.0.0.1:${server.address.port}`;
  const session = await AgentClient.connect(address, hv.identity);
  try {
    const cases = [
        {
          name: 'hooks run locally (floor)',
          fn: async () => {
            await runHookCommand(freezeCommand, { timeoutMs: 10_000 });
            await runHookCommand(thawCommand, { timeoutMs: 10_000 });
          },
        },
        {
          name: 'agent: freeze+thaw, open session',
          fn: async () => {
            await session.freeze();
            await session.thaw();
          },
        },
        {
          name: 'agent: connect+auth+freeze+thaw',
          fn: async () => {
            const c = await AgentClient.connect(address, hv.identity);
            await c.freeze();
            await c.thaw();
            await c.close();
          },
        },
        {
          name: 'agent: connect+auth only',
          fn: async () => {
            const c = await AgentClient.connect(address, hv.identity);
            await c.close();
          },
        },
    ];
    // Round-robin so that load from the other engineers on the machine hits every case alike.
    const samples = cases.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < cases.length; i++) {
        const t0 = performance.now();
        await cases[i]!.fn();
        samples[i]!.push((performance.now() - t0) / 1000);
      }
    }
    const baseMin = Math.min(...samples[0]!);
    const timings: CaseTiming[] = cases.map((c, i) => {
      const s = samples[i]!;
      const minSeconds = Math.min(...s);
      return { name: c.name, meanSeconds: s.reduce((a, b) => a + b, 0) / s.length, minSeconds, megabytesPerSecond: 0, wallTimeRatio: minSeconds / baseMin };
    });
    for (const t of timings) console.log(`  ${t.name}: min ${(t.minSeconds * 1000).toFixed(2)} ms, mean ${(t.meanSeconds * 1000).toFixed(2)} ms`);
    printTable(`agent freeze/thaw cycle, ${ROUNDS} rounds (hooks: /bin/sh -c true); ratio of minima`, timings, cases[0]!.name);
  } finally {
    await session.close();
    await server.close();
  }
}
