// The agent protocol after the handshake: every message is sealed with ChaCha20-Poly1305 under a key
// for its direction, with an explicit 64-bit sequence number that is also the nonce, so a replayed,
// reordered, dropped-then-resent or altered message is refused. Spec: docs/agent-protocol.md, "Session".

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { SnapcloneError } from '../core/errors.js';
import { MSG_SEALED } from './handshake.js';

const OFF_SEALED_SEQUENCE = 1; // u64 big-endian
const OFF_SEALED_CIPHERTEXT = 9;
const TAG_BYTES = 16;
const AEAD = 'chacha20-poly1305';
export const SEALED_OVERHEAD_BYTES = OFF_SEALED_CIPHERTEXT + TAG_BYTES;

function nonceFor(sequence: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(sequence, 4);
  return nonce;
}

export class SecureChannel {
  private sendSequence = 0n;
  private receiveSequence = 0n;

  constructor(
    private readonly sendKey: Uint8Array,
    private readonly receiveKey: Uint8Array,
  ) {}

  seal(plaintext: Uint8Array): Uint8Array {
    const header = Buffer.alloc(OFF_SEALED_CIPHERTEXT);
    header[0] = MSG_SEALED;
    header.writeBigUInt64BE(this.sendSequence, OFF_SEALED_SEQUENCE);
    const cipher = createCipheriv(AEAD, this.sendKey, nonceFor(this.sendSequence), { authTagLength: TAG_BYTES });
    cipher.setAAD(header, { plaintextLength: plaintext.length });
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    this.sendSequence++;
    return new Uint8Array(Buffer.concat([header, body, cipher.getAuthTag()]));
  }

  /** Opens the next message; anything but the expected sequence number with a valid tag is refused. */
  open(frame: Uint8Array): Uint8Array {
    if (frame[0] !== MSG_SEALED || frame.length < SEALED_OVERHEAD_BYTES) {
      throw new SnapcloneError('AGENT_PROTOCOL', 'expected a sealed message', {
        kind: 'auth',
        byteOffset: 0,
        expected: `type 0x${MSG_SEALED.toString(16)}, at least ${SEALED_OVERHEAD_BYTES} bytes`,
        actual: `type 0x${(frame[0] ?? 0).toString(16)}, ${frame.length} bytes`,
      });
    }
    const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
    const sequence = buf.readBigUInt64BE(OFF_SEALED_SEQUENCE);
    if (sequence !== this.receiveSequence) {
      throw new SnapcloneError('AGENT_REPLAY', 'message out of sequence (replayed, reordered or injected)', {
        kind: 'auth',
        byteOffset: OFF_SEALED_SEQUENCE,
        expected: this.receiveSequence,
        actual: sequence,
      });
    }
    const decipher = createDecipheriv(AEAD, this.receiveKey, nonceFor(sequence), { authTagLength: TAG_BYTES });
    decipher.setAAD(buf.subarray(0, OFF_SEALED_CIPHERTEXT), { plaintextLength: buf.length - SEALED_OVERHEAD_BYTES });
    decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(buf.subarray(OFF_SEALED_CIPHERTEXT, buf.length - TAG_BYTES)), decipher.final()]);
    } catch (e) {
      throw new SnapcloneError('AGENT_INTEGRITY', 'message authentication failed (altered in transit or forged)', {
        kind: 'auth',
        byteOffset: buf.length - TAG_BYTES,
        cause: e,
      });
    }
    this.receiveSequence++;
    return new Uint8Array(plaintext);
  }
}
