// The agent protocol's handshake messages (HELLO, CHALLENGE, AUTH, REFUSED), the transcript each side
// signs, and the session keys derived from it (X25519 ECDH + HKDF-SHA256).
// Spec: docs/agent-protocol.md, "Handshake" (field offsets are named once, here).

import { createHash, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { SnapcloneError } from '../core/errors.js';
import type { AgentIdentity, AuthorizedKey } from './keys.js';
import { ED25519_PUBLIC_BYTES, ED25519_SIGNATURE_BYTES, authorizedKeyFrom } from './keys.js';

export const PROTOCOL_VERSION = 1;
export const NONCE_BYTES = 32;
export const X25519_PUBLIC_BYTES = 32;

export const MSG_HELLO = 0x01;
export const MSG_CHALLENGE = 0x02;
export const MSG_AUTH = 0x03;
export const MSG_REFUSED = 0x04;
export const MSG_SEALED = 0x10;

// HELLO, client -> agent
const HELLO_MAGIC = Buffer.from('SCAG', 'ascii');
const OFF_HELLO_MAGIC = 1; //             4 bytes "SCAG"
const OFF_HELLO_VERSION = 5; //           u8
const OFF_HELLO_NONCE = 6; //             32 bytes, client nonce
const OFF_HELLO_EPHEMERAL = 38; //        32 bytes, client X25519 public key
export const HELLO_BYTES = 70;

// CHALLENGE, agent -> client
const OFF_CHALLENGE_VERSION = 1; //       u8
const OFF_CHALLENGE_FLAGS = 2; //         u8, bit 0: a host key is present
const OFF_CHALLENGE_NONCE = 3; //         32 bytes, agent nonce
const OFF_CHALLENGE_EPHEMERAL = 35; //    32 bytes, agent X25519 public key
const OFF_CHALLENGE_HOST_KEY = 67; //     32 bytes, agent Ed25519 host key (zeros without one)
const OFF_CHALLENGE_HOST_SIG = 99; //     64 bytes, host signature (zeros without one)
export const CHALLENGE_BYTES = 163;
const FLAG_HOST_KEY = 0x01;

// AUTH, client -> agent
const OFF_AUTH_PUBLIC_KEY = 1; //         32 bytes, client Ed25519 public key
const OFF_AUTH_SIGNATURE = 33; //         64 bytes, client signature
export const AUTH_BYTES = 97;

// REFUSED, agent -> client (unauthenticated: it can only make a session fail, never succeed)
const OFF_REFUSED_REASON = 1; //          u8
export const REFUSED_BYTES = 2;
export const REFUSED_NOT_AUTHORIZED = 1;
export const REFUSED_PROTOCOL = 2;
export const REFUSED_BUSY = 3;
export const REFUSED_TIMEOUT = 4;
export const REFUSED_REASONS: Record<number, string> = {
  [REFUSED_NOT_AUTHORIZED]: 'the key is not authorized or its signature is wrong',
  [REFUSED_PROTOCOL]: 'protocol error',
  [REFUSED_BUSY]: 'too many sessions',
  [REFUSED_TIMEOUT]: 'handshake timeout',
};

// Distinct labels so a signature made for one role or purpose is never valid for another.
const LABEL_TRANSCRIPT = 'snapclone-agent/1 transcript\0';
const LABEL_AGENT_SIG = 'snapclone-agent/1 agent signature\0';
const LABEL_CLIENT_SIG = 'snapclone-agent/1 client signature\0';
const LABEL_KEYS = 'snapclone-agent/1 session keys';

export interface Hello {
  bytes: Uint8Array;
  nonce: Uint8Array;
  ephemeral: Uint8Array;
}

export interface Challenge {
  bytes: Uint8Array;
  nonce: Uint8Array;
  ephemeral: Uint8Array;
  hostKey: Uint8Array | undefined;
  hostSignature: Uint8Array | undefined;
}

export interface Auth {
  bytes: Uint8Array;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

export interface Ephemeral {
  privateKey: KeyObject;
  publicKey: Uint8Array;
}

export interface SessionKeys {
  clientToAgent: Uint8Array;
  agentToClient: Uint8Array;
  /** A short public identifier of the session for logs (not secret: derived from the transcript). */
  sessionId: string;
}

export function newEphemeral(): Ephemeral {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, publicKey: new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')) };
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

function protocolError(message: string, byteOffset: number, expected: unknown, actual: unknown): SnapcloneError {
  return new SnapcloneError('AGENT_PROTOCOL', message, { kind: 'auth', byteOffset, expected, actual });
}

function expectType(bytes: Uint8Array, type: number, name: string, length: number): void {
  if (bytes[0] !== type) throw protocolError(`expected a ${name} message`, 0, `type 0x${type.toString(16)}`, `type 0x${(bytes[0] ?? 0).toString(16)}`);
  if (bytes.length !== length) throw protocolError(`${name} has the wrong length`, 0, length, bytes.length);
}

export function encodeHello(nonce: Uint8Array, ephemeral: Uint8Array): Hello {
  const b = new Uint8Array(HELLO_BYTES);
  b[0] = MSG_HELLO;
  b.set(HELLO_MAGIC, OFF_HELLO_MAGIC);
  b[OFF_HELLO_VERSION] = PROTOCOL_VERSION;
  b.set(nonce, OFF_HELLO_NONCE);
  b.set(ephemeral, OFF_HELLO_EPHEMERAL);
  return { bytes: b, nonce, ephemeral };
}

export function decodeHello(b: Uint8Array): Hello {
  if (b[0] === MSG_HELLO && b.length >= OFF_HELLO_VERSION + 1 && Buffer.compare(Buffer.from(b.subarray(OFF_HELLO_MAGIC, OFF_HELLO_VERSION)), HELLO_MAGIC) !== 0) {
    throw protocolError('not a snapclone agent client', OFF_HELLO_MAGIC, 'SCAG', Buffer.from(b.subarray(OFF_HELLO_MAGIC, OFF_HELLO_VERSION)).toString('hex'));
  }
  if (b[0] === MSG_HELLO && b.length > OFF_HELLO_VERSION && b[OFF_HELLO_VERSION] !== PROTOCOL_VERSION) {
    throw new SnapcloneError('AGENT_VERSION', 'unsupported protocol version', {
      kind: 'auth',
      byteOffset: OFF_HELLO_VERSION,
      expected: PROTOCOL_VERSION,
      actual: b[OFF_HELLO_VERSION],
    });
  }
  expectType(b, MSG_HELLO, 'HELLO', HELLO_BYTES);
  return {
    bytes: b,
    nonce: b.slice(OFF_HELLO_NONCE, OFF_HELLO_NONCE + NONCE_BYTES),
    ephemeral: b.slice(OFF_HELLO_EPHEMERAL, OFF_HELLO_EPHEMERAL + X25519_PUBLIC_BYTES),
  };
}

function transcriptHash(...messages: Uint8Array[]): Buffer {
  const h = createHash('sha256').update(LABEL_TRANSCRIPT);
  for (const m of messages) h.update(m);
  return h.digest();
}

/** Builds the CHALLENGE; with a host key, signs HELLO and everything in CHALLENGE before the signature. */
export function encodeChallenge(hello: Hello, nonce: Uint8Array, ephemeral: Uint8Array, hostKey: AgentIdentity | undefined): Challenge {
  const b = new Uint8Array(CHALLENGE_BYTES);
  b[0] = MSG_CHALLENGE;
  b[OFF_CHALLENGE_VERSION] = PROTOCOL_VERSION;
  b[OFF_CHALLENGE_FLAGS] = hostKey ? FLAG_HOST_KEY : 0;
  b.set(nonce, OFF_CHALLENGE_NONCE);
  b.set(ephemeral, OFF_CHALLENGE_EPHEMERAL);
  let hostSignature: Uint8Array | undefined;
  if (hostKey) {
    b.set(hostKey.publicKey, OFF_CHALLENGE_HOST_KEY);
    const toSign = Buffer.concat([Buffer.from(LABEL_AGENT_SIG), transcriptHash(hello.bytes, b.subarray(0, OFF_CHALLENGE_HOST_SIG))]);
    hostSignature = new Uint8Array(sign(null, toSign, hostKey.privateKey));
    b.set(hostSignature, OFF_CHALLENGE_HOST_SIG);
  }
  return { bytes: b, nonce, ephemeral, hostKey: hostKey?.publicKey, hostSignature };
}

export function decodeChallenge(b: Uint8Array): Challenge {
  if (b[0] === MSG_REFUSED) throw refusedError(b);
  expectType(b, MSG_CHALLENGE, 'CHALLENGE', CHALLENGE_BYTES);
  if (b[OFF_CHALLENGE_VERSION] !== PROTOCOL_VERSION) {
    throw new SnapcloneError('AGENT_VERSION', 'unsupported protocol version', {
      kind: 'auth',
      byteOffset: OFF_CHALLENGE_VERSION,
      expected: PROTOCOL_VERSION,
      actual: b[OFF_CHALLENGE_VERSION],
    });
  }
  const hasHostKey = ((b[OFF_CHALLENGE_FLAGS] ?? 0) & FLAG_HOST_KEY) !== 0;
  return {
    bytes: b,
    nonce: b.slice(OFF_CHALLENGE_NONCE, OFF_CHALLENGE_NONCE + NONCE_BYTES),
    ephemeral: b.slice(OFF_CHALLENGE_EPHEMERAL, OFF_CHALLENGE_EPHEMERAL + X25519_PUBLIC_BYTES),
    hostKey: hasHostKey ? b.slice(OFF_CHALLENGE_HOST_KEY, OFF_CHALLENGE_HOST_KEY + ED25519_PUBLIC_BYTES) : undefined,
    hostSignature: hasHostKey ? b.slice(OFF_CHALLENGE_HOST_SIG, OFF_CHALLENGE_HOST_SIG + ED25519_SIGNATURE_BYTES) : undefined,
  };
}

/** Checks the agent's host signature over the transcript; returns the host key, or undefined without one. */
export function verifyAgentHostKey(hello: Hello, challenge: Challenge): AuthorizedKey | undefined {
  if (!challenge.hostKey || !challenge.hostSignature) return undefined;
  const key = authorizedKeyFrom(challenge.hostKey);
  const signed = Buffer.concat([Buffer.from(LABEL_AGENT_SIG), transcriptHash(hello.bytes, challenge.bytes.subarray(0, OFF_CHALLENGE_HOST_SIG))]);
  let ok = false;
  try {
    ok = verify(null, signed, key.keyObject, challenge.hostSignature);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new SnapcloneError('AGENT_HOST_KEY_BAD_SIGNATURE', "the agent's host key signature does not verify (a man in the middle?)", {
      kind: 'auth',
      byteOffset: OFF_CHALLENGE_HOST_SIG,
    });
  }
  return key;
}

function clientSignedBytes(hello: Hello, challenge: Challenge, clientPublicKey: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(LABEL_CLIENT_SIG), transcriptHash(hello.bytes, challenge.bytes, clientPublicKey)]);
}

export function encodeAuth(hello: Hello, challenge: Challenge, identity: AgentIdentity): Auth {
  const signature = new Uint8Array(sign(null, clientSignedBytes(hello, challenge, identity.publicKey), identity.privateKey));
  const b = new Uint8Array(AUTH_BYTES);
  b[0] = MSG_AUTH;
  b.set(identity.publicKey, OFF_AUTH_PUBLIC_KEY);
  b.set(signature, OFF_AUTH_SIGNATURE);
  return { bytes: b, publicKey: identity.publicKey, signature };
}

export function decodeAuth(b: Uint8Array): Auth {
  expectType(b, MSG_AUTH, 'AUTH', AUTH_BYTES);
  return {
    bytes: b,
    publicKey: b.slice(OFF_AUTH_PUBLIC_KEY, OFF_AUTH_PUBLIC_KEY + ED25519_PUBLIC_BYTES),
    signature: b.slice(OFF_AUTH_SIGNATURE, OFF_AUTH_SIGNATURE + ED25519_SIGNATURE_BYTES),
  };
}

/** The authorized key that made AUTH's signature over this transcript, or a reason it is refused. */
export function verifyClientAuth(
  hello: Hello,
  challenge: Challenge,
  auth: Auth,
  authorized: readonly AuthorizedKey[],
): { ok: true; key: AuthorizedKey } | { ok: false; reason: 'unknown-key' | 'bad-signature' } {
  const key = authorized.find((k) => Buffer.compare(Buffer.from(k.publicKey), Buffer.from(auth.publicKey)) === 0);
  if (!key) return { ok: false, reason: 'unknown-key' };
  let ok = false;
  try {
    ok = verify(null, clientSignedBytes(hello, challenge, auth.publicKey), key.keyObject, auth.signature);
  } catch {
    ok = false;
  }
  return ok ? { ok: true, key } : { ok: false, reason: 'bad-signature' };
}

/** ECDH on the two ephemeral keys, then HKDF salted with the whole handshake transcript. */
export function deriveSessionKeys(own: Ephemeral, peerEphemeral: Uint8Array, hello: Hello, challenge: Challenge, auth: Auth): SessionKeys {
  let shared: Buffer;
  try {
    const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerEphemeral).toString('base64url') }, format: 'jwk' });
    shared = diffieHellman({ privateKey: own.privateKey, publicKey: peer });
  } catch (e) {
    // OpenSSL refuses low-order points (an all-zero shared secret): a forged ephemeral key.
    throw new SnapcloneError('AGENT_PROTOCOL', 'key agreement failed (invalid ephemeral key)', { kind: 'auth', cause: e });
  }
  const salt = transcriptHash(hello.bytes, challenge.bytes, auth.bytes);
  const okm = new Uint8Array(hkdfSync('sha256', shared, salt, LABEL_KEYS, 64));
  shared.fill(0);
  return { clientToAgent: okm.slice(0, 32), agentToClient: okm.slice(32, 64), sessionId: salt.subarray(0, 6).toString('hex') };
}

export function encodeRefused(reason: number): Uint8Array {
  const b = new Uint8Array(REFUSED_BYTES);
  b[0] = MSG_REFUSED;
  b[OFF_REFUSED_REASON] = reason;
  return b;
}

/** The client's error for a REFUSED message. */
export function refusedError(b: Uint8Array): SnapcloneError {
  const reason = b.length === REFUSED_BYTES ? (b[OFF_REFUSED_REASON] ?? 0) : 0;
  const text = REFUSED_REASONS[reason] ?? `reason ${reason}`;
  if (reason === REFUSED_BUSY) {
    return new SnapcloneError('AGENT_BUSY', `the agent refused the session: ${text}`, { kind: 'refused', hint: 'retry later' });
  }
  return new SnapcloneError('AGENT_REFUSED', `the agent refused the session: ${text}`, {
    kind: 'auth',
    hint: reason === REFUSED_NOT_AUTHORIZED ? "check that the key's .pub file is among the agent's --authorized-key files" : undefined,
  });
}
