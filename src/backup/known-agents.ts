// The agents' host keys this hypervisor has met, as ssh's known_hosts: the first backup that reaches
// an agent with a host key records its fingerprint under the agent's address, and every later backup
// requires the same key (trust on first use), so a machine that takes over the address cannot fake a
// freeze. One line per agent, "HOST:PORT SHA256:...", in STATE_DIR/known-agents. Spec: issue 6
// (host key pinning), docs/agent-protocol.md "Threat model".

import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SnapcloneError } from '../core/errors.js';
import { createAtomicFile } from '../io/atomic-file.js';
import { ioError } from '../io/source-file.js';
import { writeFully } from '../io/write-fully.js';

export const KNOWN_AGENTS_FILE = 'known-agents';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function knownAgentsPath(stateDir: string): string {
  return join(stateDir, KNOWN_AGENTS_FILE);
}

/** address -> fingerprint. A missing file is an empty list; a damaged line is an error naming it. */
export async function readKnownAgents(path: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw ioError(e, path, 'read');
  }
  const known = new Map<string, string>();
  let byteOffset = 0;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed !== '' && !trimmed.startsWith('#')) {
      const [address, fingerprint, ...rest] = trimmed.split(/\s+/);
      if (address === undefined || fingerprint === undefined || rest.length > 0 || !FINGERPRINT.test(fingerprint)) {
        throw new SnapcloneError('STATE_KNOWN_AGENTS_BAD', `${path}: a line is not "HOST:PORT SHA256:<43 base64 characters>"`, {
          kind: 'input',
          path,
          byteOffset,
          actual: trimmed.slice(0, 120),
          hint: 'fix or delete that line (the next backup records the agent again)',
        });
      }
      known.set(address, fingerprint);
    }
    byteOffset += Buffer.byteLength(line) + 1;
  }
  return known;
}

/** Adds (or replaces) one agent's fingerprint; the file is replaced atomically (createAtomicFile). */
export async function rememberAgent(path: string, address: string, fingerprint: string): Promise<void> {
  const known = await readKnownAgents(path);
  known.set(address, fingerprint);
  const lines = ['# agents whose host key snapclone backup has recorded (trust on first use); delete a line to accept a new key'];
  for (const [a, f] of known) lines.push(`${a} ${f}`);
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw ioError(e, dirname(path), 'create the state directory');
  }
  const file = await createAtomicFile(path, { overwrite: true, mode: 0o600 });
  try {
    await writeFully(file.handle, Buffer.from(`${lines.join('\n')}\n`), 0, file.temporaryPath);
    await file.commit();
  } finally {
    await file.abort();
  }
}
