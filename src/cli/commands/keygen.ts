// `snapclone keygen -o FILE`: an Ed25519 key pair for the quiesce agent. FILE is the private key in
// OpenSSH's format (mode 0600), FILE.pub the one-line public key. Spec: docs/agent-protocol.md, "Keys".

import type { Command } from 'commander';
import { hostname, userInfo } from 'node:os';
import { SnapcloneError } from '../../core/errors.js';
import { createAtomicFile, refuseExisting, type AtomicFile } from '../../io/atomic-file.js';
import { generateIdentity } from '../../agent/keys.js';

interface KeygenOptions {
  output: string;
  comment?: string;
  overwrite?: boolean;
  quiet?: boolean;
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('make an Ed25519 key pair for the quiesce agent (FILE: private, 0600; FILE.pub: public)')
    .requiredOption('-o, --output <file>', 'private key file to write; the public key goes to FILE.pub')
    .option('-C, --comment <text>', 'comment stored with the key (default: user@host)')
    .option('--overwrite', 'replace existing key files')
    .option('-q, --quiet', 'print nothing but errors')
    .addHelpText('after', '\nExample:\n  snapclone keygen -o /etc/snapclone/hypervisor.key   # then copy hypervisor.key.pub into each guest')
    .action(async (opts: KeygenOptions) => {
      await runKeygen(opts);
    });
}

async function runKeygen(opts: KeygenOptions): Promise<void> {
  const privatePath = opts.output;
  const publicPath = `${privatePath}.pub`;
  const comment = opts.comment ?? `${safeUser()}@${hostname()}`;
  if (/[\r\n]/.test(comment)) {
    throw new SnapcloneError('USAGE_BAD_COMMENT', '--comment must be a single line', { kind: 'usage' });
  }
  // Refuse before writing anything, so that a refusal never leaves half a pair.
  if (!opts.overwrite) {
    await refuseExisting(privatePath);
    await refuseExisting(publicPath);
  }
  const { identity, privateText, publicLine } = generateIdentity(comment);
  const files: AtomicFile[] = [];
  try {
    const priv = await createAtomicFile(privatePath, { overwrite: !!opts.overwrite, mode: 0o600 });
    files.push(priv);
    await priv.handle.writeFile(privateText);
    const pub = await createAtomicFile(publicPath, { overwrite: !!opts.overwrite, mode: 0o644 });
    files.push(pub);
    await pub.handle.writeFile(publicLine);
    await priv.commit();
    await pub.commit();
  } catch (e) {
    for (const f of files) await f.abort();
    throw e;
  }
  if (!opts.quiet) {
    process.stderr.write(`snapclone keygen: wrote ${privatePath} (private, keep it on the hypervisor) and ${publicPath} (public, for the guests)\n`);
  }
  process.stdout.write(`${identity.fingerprint} ${comment}\n`);
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'snapclone';
  }
}
