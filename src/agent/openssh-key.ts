// OpenSSH key encodings for Ed25519: the one-line public key ("ssh-ed25519 AAAA... comment"), its
// SHA256 fingerprint, and the unencrypted "openssh-key-v1" private key file (OpenSSH's PROTOCOL.key).

import { SnapcloneError } from '../core/errors.js';

export const SSH_ED25519 = 'ssh-ed25519';
const ED25519_KEY_BYTES = 32;
const PRIVATE_MAGIC = 'openssh-key-v1\0';
const PEM_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PEM_END = '-----END OPENSSH PRIVATE KEY-----';
// With cipher "none" OpenSSH pads the private section to a multiple of 8 bytes with 1, 2, 3, ...
const PRIVATE_BLOCK_BYTES = 8;
// Private key files are small; anything larger is not one.
const MAX_PRIVATE_BLOB_BYTES = 16 * 1024;

/** The parts of an Ed25519 private key file that matter: seed, public key, comment. */
export interface OpensshEd25519Private {
  seed: Uint8Array; // 32 bytes
  publicKey: Uint8Array; // 32 bytes
  comment: string;
}

/** The SSH wire blob of a public key: string "ssh-ed25519", string key. */
export function ed25519PublicBlob(publicKey: Uint8Array): Uint8Array {
  const w = new WireWriter();
  w.string(new TextEncoder().encode(SSH_ED25519));
  w.string(publicKey);
  return w.bytes();
}

/** "ssh-ed25519 AAAA... comment", as in authorized_keys and id_ed25519.pub. */
export function formatOpensshPublicLine(publicKey: Uint8Array, comment: string): string {
  const b64 = Buffer.from(ed25519PublicBlob(publicKey)).toString('base64');
  return comment === '' ? `${SSH_ED25519} ${b64}` : `${SSH_ED25519} ${b64} ${comment}`;
}

/** Parses one authorized_keys-style line; returns undefined when it is not an ssh-* key line. */
export function parseOpensshPublicLine(
  line: string,
  where: { path?: string; lineNumber?: number } = {},
): { publicKey: Uint8Array; comment: string } | undefined {
  const m = /^\s*(ssh-[a-z0-9-]+|ecdsa-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+([A-Za-z0-9+/=]+)(?:\s+(.*?))?\s*$/.exec(line);
  if (!m) return undefined;
  const at = where.lineNumber === undefined ? '' : ` on line ${where.lineNumber}`;
  if (m[1] !== SSH_ED25519) {
    throw new SnapcloneError('AGENT_KEY_TYPE', `unsupported key type ${m[1]}${at}`, {
      kind: 'usage',
      path: where.path,
      expected: SSH_ED25519,
      actual: m[1],
      hint: 'snapclone uses Ed25519 keys: make one with `snapclone keygen` or `ssh-keygen -t ed25519`',
    });
  }
  const blob = new Uint8Array(Buffer.from(m[2]!, 'base64'));
  const r = new WireReader(blob, 'public key blob', where.path);
  const type = r.utf8String();
  const publicKey = r.string();
  if (type !== SSH_ED25519 || publicKey.length !== ED25519_KEY_BYTES || r.remaining() !== 0) {
    throw new SnapcloneError('AGENT_KEY_MALFORMED', `malformed ssh-ed25519 public key${at}`, {
      kind: 'usage',
      path: where.path,
      expected: `blob "${SSH_ED25519}" + 32-byte key`,
      actual: `type "${type}", ${publicKey.length}-byte key, ${r.remaining()} trailing bytes`,
    });
  }
  return { publicKey, comment: m[3] ?? '' };
}

export function isOpensshPrivatePem(text: string): boolean {
  return text.includes(PEM_BEGIN);
}

/** Encodes an unencrypted openssh-key-v1 file, as `ssh-keygen -t ed25519 -N ''` writes it. */
export function encodeOpensshPrivatePem(key: OpensshEd25519Private, checkInt: number): string {
  const section = new WireWriter();
  section.u32(checkInt >>> 0);
  section.u32(checkInt >>> 0);
  section.string(new TextEncoder().encode(SSH_ED25519));
  section.string(key.publicKey);
  const secret = new Uint8Array(64);
  secret.set(key.seed, 0);
  secret.set(key.publicKey, 32);
  section.string(secret);
  section.string(new TextEncoder().encode(key.comment));
  for (let pad = 1; section.length() % PRIVATE_BLOCK_BYTES !== 0; pad++) section.u8(pad);

  const w = new WireWriter();
  w.raw(new TextEncoder().encode(PRIVATE_MAGIC));
  w.string(new TextEncoder().encode('none')); // cipher
  w.string(new TextEncoder().encode('none')); // kdf
  w.string(new Uint8Array(0)); // kdf options
  w.u32(1); // number of keys
  w.string(ed25519PublicBlob(key.publicKey));
  w.string(section.bytes());
  const b64 = Buffer.from(w.bytes()).toString('base64');
  const lines = b64.match(/.{1,70}/g) ?? [];
  return `${PEM_BEGIN}\n${lines.join('\n')}\n${PEM_END}\n`;
}

/** Decodes an openssh-key-v1 file holding one unencrypted Ed25519 key. */
export function decodeOpensshPrivatePem(text: string, path?: string): OpensshEd25519Private {
  const begin = text.indexOf(PEM_BEGIN);
  const end = text.indexOf(PEM_END, begin);
  if (begin < 0 || end < 0) {
    throw malformed('no "-----BEGIN/END OPENSSH PRIVATE KEY-----" armour', path);
  }
  const b64 = text.slice(begin + PEM_BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length > (MAX_PRIVATE_BLOB_BYTES * 4) / 3) {
    throw malformed('the armoured body is not base64 of a plausible size', path);
  }
  const blob = new Uint8Array(Buffer.from(b64, 'base64'));
  const r = new WireReader(blob, 'private key file', path);
  const magic = new TextDecoder().decode(r.raw(PRIVATE_MAGIC.length));
  if (magic !== PRIVATE_MAGIC) throw malformed('bad magic', path, 0, PRIVATE_MAGIC, magic);
  const cipher = r.utf8String();
  const kdf = r.utf8String();
  r.string(); // kdf options
  if (cipher !== 'none' || kdf !== 'none') {
    throw new SnapcloneError('AGENT_KEY_ENCRYPTED', `the private key is protected by a passphrase (${cipher}/${kdf})`, {
      kind: 'usage',
      path,
      hint: 'an unattended agent or backup job needs a key without a passphrase: make one with `snapclone keygen`',
    });
  }
  const keyCountOffset = r.offset();
  const keyCount = r.u32();
  if (keyCount !== 1) throw malformed('expected exactly one key', path, keyCountOffset, 1, keyCount);
  const outerPublic = r.string();
  const sectionOffset = r.offset() + 4;
  const section = new WireReader(r.string(), 'private section', path, sectionOffset);
  const check1 = section.u32();
  const check2 = section.u32();
  if (check1 !== check2) throw malformed('check integers differ (wrong passphrase or damaged file)', path, sectionOffset, check1, check2);
  const typeOffset = section.offset();
  const type = section.utf8String();
  if (type !== SSH_ED25519) {
    throw new SnapcloneError('AGENT_KEY_TYPE', `unsupported private key type ${type}`, {
      kind: 'usage',
      path,
      byteOffset: typeOffset,
      expected: SSH_ED25519,
      actual: type,
      hint: 'snapclone uses Ed25519 keys: make one with `snapclone keygen` or `ssh-keygen -t ed25519`',
    });
  }
  const publicKey = section.string();
  const secret = section.string();
  const comment = section.utf8String();
  if (publicKey.length !== ED25519_KEY_BYTES || secret.length !== 64) {
    throw malformed('Ed25519 key lengths', path, typeOffset, '32-byte public, 64-byte secret', `${publicKey.length}, ${secret.length}`);
  }
  if (!equal(secret.subarray(32), publicKey) || !equal(outerPublic, ed25519PublicBlob(publicKey))) {
    throw malformed('the public key copies inside the file disagree', path, typeOffset);
  }
  return { seed: secret.slice(0, 32), publicKey, comment };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function malformed(what: string, path?: string, byteOffset?: number, expected?: unknown, actual?: unknown): SnapcloneError {
  return new SnapcloneError('AGENT_KEY_MALFORMED', `malformed OpenSSH private key: ${what}`, {
    kind: 'usage',
    path,
    byteOffset,
    expected,
    actual,
  });
}

/** SSH wire reads (RFC 4251 §5) with every length checked against what is left. */
class WireReader {
  private pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
    private readonly path: string | undefined,
    private readonly baseOffset = 0,
  ) {}
  offset(): number {
    return this.baseOffset + this.pos;
  }
  remaining(): number {
    return this.buf.length - this.pos;
  }
  raw(n: number): Uint8Array {
    if (n > this.remaining()) {
      throw new SnapcloneError('AGENT_KEY_MALFORMED', `${this.what} is truncated`, {
        kind: 'usage',
        path: this.path,
        byteOffset: this.offset(),
        expected: `${n} more bytes`,
        actual: `${this.remaining()}`,
      });
    }
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8(): number {
    return this.raw(1)[0]!;
  }
  u32(): number {
    const b = this.raw(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }
  string(): Uint8Array {
    return this.raw(this.u32());
  }
  utf8String(): string {
    return new TextDecoder().decode(this.string());
  }
}

class WireWriter {
  private parts: Uint8Array[] = [];
  private total = 0;
  length(): number {
    return this.total;
  }
  raw(b: Uint8Array): void {
    this.parts.push(b);
    this.total += b.length;
  }
  u8(v: number): void {
    this.raw(Uint8Array.of(v & 0xff));
  }
  u32(v: number): void {
    this.raw(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }
  string(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
