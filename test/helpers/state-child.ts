// Starts test/helpers/state-child.mjs and waits for its READY line; kills it on request.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./state-child.mjs', import.meta.url));

export interface StateChild {
  child: ChildProcess;
  ready: { pid: number; lock?: string; journal?: string; setDir?: string; error?: string };
  /** Kills it with `signal` and waits until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startStateChild(args: string[]): Promise<StateChild> {
  const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      resolve({
        child,
        ready: JSON.parse(out.slice(0, nl)) as StateChild['ready'],
        kill: async (signal = 'SIGKILL') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
    child.once('error', reject);
    child.once('exit', (status) => {
      if (!out.includes('\n')) reject(new Error(`state-child exited with ${status} before it was ready`));
    });
  });
}
