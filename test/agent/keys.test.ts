// Key files against the real OpenSSH and OpenSSL tools: our private keys load in ssh-keygen, theirs in
// snapclone, fingerprints equal `ssh-keygen -l`, and malformed or unsuitable keys fail with a code.

import { execFileSync } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf, loadAuthorizedKeys, loadIdentity, parseAuthorizedKeys, parseIdentity } from '../../src/agent/keys.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tmp.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('snapclone-keys-'));
});
afterAll(async () => cleanup());

function sshKeygen(...args: string[]): string {
  return execFileSync('ssh-keygen', args, { encoding: 'utf8' });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'no error';
}

describe('snapclone keygen', () => {
  it('writes a 0600 OpenSSH private key and a .pub that ssh-keygen reads identically', async () => {
    const key = join(dir, 'hv.key');
    const r = await runCli(['keygen', '-o', key, '-C', 'backup@hypervisor']);
    expect(r.status).toBe(0);
    expect(((await stat(key)).mode & 0o777).toString(8)).toBe('600');
    const pub = await readFile(`${key}.pub`, 'utf8');
    expect(pub).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=* backup@hypervisor\n$/);
    // ssh-keygen derives the same public key from our private key file...
    expect(sshKeygen('-y', '-f', key).trim()).toBe(pub.trim());
    // ...and prints the same fingerprint as we do.
    const ours = r.stdout.toString().trim();
    const theirs = sshKeygen('-l', '-f', `${key}.pub`).trim(); // "256 SHA256:... comment (ED25519)"
    expect(theirs).toBe(`256 ${ours} (ED25519)`);
    expect((await loadIdentity(key)).fingerprint).toBe(ours.split(' ')[0]);
  });

  it('refuses to overwrite without --overwrite and leaves both files untouched', async () => {
    const key = join(dir, 'keep.key');
    expect((await runCli(['keygen', '-o', key, '-q'])).status).toBe(0);
    const before = [await readFile(key, 'utf8'), await readFile(`${key}.pub`, 'utf8')];
    const again = await runCli(['keygen', '-o', key]);
    expect(again.status).toBe(4);
    expect(again.stderr).toContain('OUTPUT_EXISTS');
    expect([await readFile(key, 'utf8'), await readFile(`${key}.pub`, 'utf8')]).toEqual(before);
    // FILE.pub alone existing also blocks.
    await writeFile(join(dir, 'lonely.key.pub'), 'x');
    expect((await runCli(['keygen', '-o', join(dir, 'lonely.key')])).status).toBe(4);
    const forced = await runCli(['keygen', '-o', key, '--overwrite']);
    expect(forced.status).toBe(0);
    expect(await readFile(`${key}.pub`, 'utf8')).not.toBe(before[1]);
    expect(sshKeygen('-y', '-f', key).trim()).toBe((await readFile(`${key}.pub`, 'utf8')).trim());
  });
});

describe('key files from other tools', () => {
  it('loads a key made by ssh-keygen -t ed25519, with its fingerprint', async () => {
    const key = join(dir, 'id_ed25519');
    sshKeygen('-q', '-t', 'ed25519', '-N', '', '-C', 'made-by-openssh', '-f', key);
    const identity = await loadIdentity(key);
    const [authorized] = await loadAuthorizedKeys(`${key}.pub`);
    expect(authorized!.fingerprint).toBe(identity.fingerprint);
    expect(authorized!.comment).toBe('made-by-openssh');
    expect(sshKeygen('-l', '-f', `${key}.pub`)).toContain(identity.fingerprint);
    expect(identity.comment).toBe('made-by-openssh');
  });

  it('loads PKCS#8 and SPKI PEM keys made by openssl', async () => {
    const key = join(dir, 'openssl.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
    await chmod(key, 0o600);
    const pub = execFileSync('openssl', ['pkey', '-in', key, '-pubout'], { encoding: 'utf8' });
    const identity = await loadIdentity(key);
    expect(parseAuthorizedKeys(pub)[0]!.fingerprint).toBe(identity.fingerprint);
    // openssl's raw public key (last 32 bytes of the SPKI DER) gives the same fingerprint.
    const der = execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-outform', 'DER']);
    expect(fingerprintOf(new Uint8Array(der.subarray(der.length - 32)))).toBe(identity.fingerprint);
  });

  it('refuses passphrase-protected, non-Ed25519, damaged, public-for-private and too-open keys', async () => {
    const enc = join(dir, 'enc');
    sshKeygen('-q', '-t', 'ed25519', '-N', 'secret', '-f', enc);
    expect(codeOf(() => parseIdentity(execFileSync('cat', [enc], { encoding: 'utf8' })))).toBe('AGENT_KEY_ENCRYPTED');
    const rsa = join(dir, 'rsa');
    sshKeygen('-q', '-t', 'rsa', '-b', '1024', '-N', '', '-f', rsa);
    const rsaText = await readFile(rsa, 'utf8');
    expect(codeOf(() => parseIdentity(rsaText))).toBe('AGENT_KEY_TYPE');
    expect(codeOf(() => parseAuthorizedKeys(execFileSync('cat', [`${rsa}.pub`], { encoding: 'utf8' })))).toBe('AGENT_KEY_TYPE');

    const good = join(dir, 'good');
    sshKeygen('-q', '-t', 'ed25519', '-N', '', '-f', good);
    const text = await readFile(good, 'utf8');
    const lines = text.trim().split('\n');
    const truncated = [...lines.slice(0, 3), lines[lines.length - 1]].join('\n');
    const e = (() => {
      try {
        parseIdentity(truncated);
      } catch (err) {
        return err as { code: string; byteOffset?: number };
      }
      return { code: 'no error' };
    })();
    expect(e.code).toBe('AGENT_KEY_MALFORMED');
    expect(typeof e.byteOffset).toBe('number');
    expect(codeOf(() => parseIdentity('hello'))).toBe('AGENT_KEY_MALFORMED');
    expect(codeOf(() => parseAuthorizedKeys(text))).toBe('AGENT_KEY_IS_PRIVATE');
    expect(codeOf(() => parseAuthorizedKeys('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== short'))).toBe('AGENT_KEY_MALFORMED');
    expect(codeOf(() => parseAuthorizedKeys('not a key'))).toBe('AGENT_KEY_MALFORMED');
    expect(codeOf(() => parseAuthorizedKeys('# only a comment\n'))).toBe('AGENT_KEY_MALFORMED');

    await chmod(good, 0o644);
    await expect(loadIdentity(good)).rejects.toMatchObject({ code: 'AGENT_KEY_PERMISSIONS', kind: 'refused' });
  });
});
