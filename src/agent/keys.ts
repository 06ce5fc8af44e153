// Ed25519 identities for the agent protocol: generating them, loading private keys (OpenSSH's
// openssh-key-v1 or PKCS#8 PEM) and authorized public keys (OpenSSH lines or SPKI PEM), fingerprints.
// Spec: docs/agent-protocol.md, "Keys".

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SnapcloneError } from '../core/errors.js';
import { ioError } from '../io/source-file.js';
import {
  decodeOpensshPrivatePem,
  ed25519PublicBlob,
  encodeOpensshPrivatePem,
  formatOpensshPublicLine,
  isOpensshPrivatePem,
  parseOpensshPublicLine,
} from './openssh-key.js';

export const ED25519_PUBLIC_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
// Key files are a few hundred bytes; a larger file is a mistake (a disk image passed by accident).
const MAX_KEY_FILE_BYTES = 1 << 20;
// PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A private key that can sign: the hypervisor's key, or the agent's optional host key. */
export interface AgentIdentity {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
  readonly fingerprint: string;
  readonly comment: string;
}

/** A public key allowed to command the agent, or pinned as the agent's host key. */
export interface AuthorizedKey {
  readonly publicKey: Uint8Array;
  readonly keyObject: KeyObject;
  readonly fingerprint: string;
  readonly comment: string;
}

/** `SHA256:<base64 without padding>` of the SSH public key blob: what `ssh-keygen -l` prints. */
export function fingerprintOf(publicKey: Uint8Array): string {
  const digest = createHash('sha256').update(ed25519PublicBlob(publicKey)).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
}

export function identityFromSeed(seed: Uint8Array, comment: string): AgentIdentity {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return { privateKey, publicKey, fingerprint: fingerprintOf(publicKey), comment };
}

export function authorizedKeyFrom(publicKey: Uint8Array, comment = ''): AuthorizedKey {
  return { publicKey, keyObject: publicKeyObject(publicKey), fingerprint: fingerprintOf(publicKey), comment };
}

/** A fresh key pair with the texts of its two files (private: openssh-key-v1; public: one line). */
export function generateIdentity(comment: string): { identity: AgentIdentity; privateText: string; publicLine: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length));
  const identity = identityFromSeed(seed, comment);
  const privateText = encodeOpensshPrivatePem({ seed, publicKey: identity.publicKey, comment }, randomBytes(4).readUInt32BE(0));
  return { identity, privateText, publicLine: `${formatOpensshPublicLine(identity.publicKey, comment)}\n` };
}

/** Parses a private key file's text: openssh-key-v1 (unencrypted) or PKCS#8 PEM, Ed25519 only. */
export function parseIdentity(text: string, path?: string): AgentIdentity {
  if (isOpensshPrivatePem(text)) {
    const k = decodeOpensshPrivatePem(text, path);
    const identity = identityFromSeed(k.seed, k.comment);
    if (Buffer.compare(Buffer.from(identity.publicKey), Buffer.from(k.publicKey)) !== 0) {
      throw new SnapcloneError('AGENT_KEY_MALFORMED', 'the public key stored in the private key file does not match its seed', {
        kind: 'usage',
        path,
      });
    }
    return identity;
  }
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new SnapcloneError('AGENT_KEY_ENCRYPTED', 'the private key is protected by a passphrase', {
      kind: 'usage',
      path,
      hint: 'an unattended agent or backup job needs a key without a passphrase: make one with `snapclone keygen`',
    });
  }
  if (!text.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new SnapcloneError('AGENT_KEY_MALFORMED', 'not a private key file', {
      kind: 'usage',
      path,
      expected: '"-----BEGIN OPENSSH PRIVATE KEY-----" or "-----BEGIN PRIVATE KEY-----" (PKCS#8)',
      hint: 'pass the private key (not the .pub file); make one with `snapclone keygen -o FILE`',
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (e) {
    throw new SnapcloneError('AGENT_KEY_MALFORMED', 'cannot read the PKCS#8 private key', { kind: 'usage', path, cause: e });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SnapcloneError('AGENT_KEY_TYPE', `unsupported private key type ${key.asymmetricKeyType ?? '?'}`, {
      kind: 'usage',
      path,
      expected: 'ed25519',
      actual: key.asymmetricKeyType,
      hint: 'snapclone uses Ed25519 keys: make one with `snapclone keygen`',
    });
  }
  const publicKey = rawPublicKey(createPublicKey(key));
  return { privateKey: key, publicKey, fingerprint: fingerprintOf(publicKey), comment: '' };
}

/**
 * Parses a public key file: OpenSSH lines (authorized_keys style: several keys, blank lines and
 * # comments allowed) or one SPKI PEM block ("-----BEGIN PUBLIC KEY-----", as openssl writes).
 */
export function parseAuthorizedKeys(text: string, path?: string): AuthorizedKey[] {
  if (text.includes('PRIVATE KEY-----')) {
    throw new SnapcloneError('AGENT_KEY_IS_PRIVATE', 'this is a private key: the agent needs only the public key (.pub)', {
      kind: 'usage',
      path,
      hint: 'copy FILE.pub, never the private key, into the guest',
    });
  }
  if (text.includes('-----BEGIN PUBLIC KEY-----')) {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: text, format: 'pem' });
    } catch (e) {
      throw new SnapcloneError('AGENT_KEY_MALFORMED', 'cannot read the PEM public key', { kind: 'usage', path, cause: e });
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new SnapcloneError('AGENT_KEY_TYPE', `unsupported public key type ${key.asymmetricKeyType ?? '?'}`, {
        kind: 'usage',
        path,
        expected: 'ed25519',
        actual: key.asymmetricKeyType,
      });
    }
    return [authorizedKeyFrom(rawPublicKey(key))];
  }
  const keys: AuthorizedKey[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parsed = parseOpensshPublicLine(line, { path, lineNumber: i + 1 });
    if (!parsed) {
      throw new SnapcloneError('AGENT_KEY_MALFORMED', `line ${i + 1} is not an "ssh-ed25519 AAAA... comment" public key`, {
        kind: 'usage',
        path,
        actual: line.length > 40 ? `${line.slice(0, 40)}...` : line,
      });
    }
    keys.push(authorizedKeyFrom(parsed.publicKey, parsed.comment));
  }
  if (keys.length === 0) {
    throw new SnapcloneError('AGENT_KEY_MALFORMED', 'the public key file holds no key', { kind: 'usage', path });
  }
  return keys;
}

async function readKeyFile(path: string): Promise<{ text: string; mode: number }> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new SnapcloneError('AGENT_KEY_MALFORMED', 'not a regular file', { kind: 'usage', path });
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new SnapcloneError('AGENT_KEY_MALFORMED', 'too large to be a key file', {
        kind: 'usage',
        path,
        expected: `at most ${MAX_KEY_FILE_BYTES} bytes`,
        actual: st.size,
      });
    }
    return { text: await readFile(path, 'utf8'), mode: st.mode };
  } catch (e) {
    if (e instanceof SnapcloneError) throw e;
    throw ioError(e, path, 'read key file');
  }
}

/** Loads a private key, refusing (as ssh does) one that others than its owner can read. */
export async function loadIdentity(path: string): Promise<AgentIdentity> {
  const { text, mode } = await readKeyFile(path);
  if ((mode & 0o077) !== 0) {
    throw new SnapcloneError('AGENT_KEY_PERMISSIONS', `private key permissions 0${(mode & 0o777).toString(8)} are too open`, {
      kind: 'refused',
      path,
      expected: '0600 (readable by its owner only)',
      hint: `chmod 600 ${path}`,
    });
  }
  return parseIdentity(text, path);
}

export async function loadAuthorizedKeys(path: string): Promise<AuthorizedKey[]> {
  const { text } = await readKeyFile(path);
  return parseAuthorizedKeys(text, path);
}
