// Length-prefixed frames over a TCP socket for the agent protocol: u32 big-endian length, then that
// many bytes. Bounded: a declared length above the limit fails before anything is buffered, and at most
// a few unread frames are queued (the socket is paused beyond). Spec: docs/agent-protocol.md, "Framing".

import type { Socket } from 'node:net';
import { SnapcloneError } from '../core/errors.js';

export const FRAME_HEADER_BYTES = 4;

export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export interface FramedConnectionOptions {
  /** Largest payload accepted from the peer. */
  maxFrameBytes: number;
  /** Unread frames kept before the socket is paused (back-pressure on a peer that floods). */
  maxQueuedFrames?: number;
}

type Waiter = { resolve: (f: Uint8Array) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined };

export class FramedConnection {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Bytes received and consumed so far: the byte offset reported in framing errors. */
  private consumedBytes = 0;
  private readonly frames: Uint8Array[] = [];
  private waiter: Waiter | undefined;
  private failure: SnapcloneError | undefined;
  private readonly maxFrameBytes: number;
  private readonly maxQueuedFrames: number;
  readonly closed: Promise<void>;

  constructor(
    readonly socket: Socket,
    options: FramedConnectionOptions,
  ) {
    this.maxFrameBytes = options.maxFrameBytes;
    this.maxQueuedFrames = options.maxQueuedFrames ?? 4;
    socket.on('data', (b: Buffer) => this.onData(b));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.fail(new SnapcloneError('AGENT_CONNECTION_CLOSED', `connection error: ${e.code ?? e.message}`, { kind: 'io', cause: e }));
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.fail(new SnapcloneError('AGENT_CONNECTION_CLOSED', 'the peer closed the connection', { kind: 'io' }));
        resolve();
      });
    });
    socket.on('end', () => {
      // A half-closed peer can send nothing more: treat it as closed once queued frames are read.
      this.fail(new SnapcloneError('AGENT_CONNECTION_CLOSED', 'the peer closed the connection', { kind: 'io' }));
    });
  }

  /** The next frame's payload; rejects on timeout, framing error or close. */
  next(timeoutMs: number, waitingFor: string): Promise<Uint8Array> {
    const queued = this.frames.shift();
    if (queued) {
      this.pump();
      if (this.socket.isPaused() && this.frames.length < this.maxQueuedFrames && !this.failure) this.socket.resume();
      return Promise.resolve(queued);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new SnapcloneError('AGENT_INTERNAL', 'two concurrent reads on one connection', { kind: 'internal' }));
    return new Promise((resolve, reject) => {
      const timer =
        Number.isFinite(timeoutMs) && timeoutMs >= 0
          ? setTimeout(() => {
              this.waiter = undefined;
              reject(
                new SnapcloneError('AGENT_TIMEOUT', `timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${waitingFor}`, {
                  kind: 'io',
                }),
              );
            }, timeoutMs)
          : undefined;
      this.waiter = { resolve, reject, timer };
    });
  }

  send(payload: Uint8Array): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(encodeFrame(payload));
  }

  /** Sends a last frame (if any) and closes the sending side; the socket is destroyed soon after. */
  end(payload?: Uint8Array): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) {
      if (payload) this.socket.end(encodeFrame(payload));
      else this.socket.end();
    }
    // Do not wait for a peer that never closes its side.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    this.pump();
    if (this.frames.length >= this.maxQueuedFrames) this.socket.pause();
  }

  /** Cuts complete frames out of the buffer, stopping when enough are queued unread. */
  private pump(): void {
    while (this.bufferedBytes >= FRAME_HEADER_BYTES && this.frames.length < this.maxQueuedFrames && !this.failure) {
      const head = this.peek(FRAME_HEADER_BYTES);
      const length = head.readUInt32BE(0);
      if (length === 0 || length > this.maxFrameBytes) {
        this.fail(
          new SnapcloneError('AGENT_BAD_FRAME', 'frame length out of range', {
            kind: 'auth',
            byteOffset: this.consumedBytes,
            expected: `1..${this.maxFrameBytes}`,
            actual: length,
          }),
        );
        this.socket.destroy();
        return;
      }
      if (this.bufferedBytes < FRAME_HEADER_BYTES + length) break;
      const frame = this.take(FRAME_HEADER_BYTES + length).subarray(FRAME_HEADER_BYTES);
      this.deliver(new Uint8Array(frame));
    }
  }

  private deliver(frame: Uint8Array): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.resolve(frame);
    } else {
      this.frames.push(frame);
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.coalesce();
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.coalesce();
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.bufferedBytes -= n;
    this.consumedBytes += n;
    return out;
  }

  private coalesce(): void {
    const all = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    this.chunks.push(all);
  }

  private fail(e: SnapcloneError): void {
    if (this.failure) return;
    this.failure = e;
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    const w = this.waiter;
    if (w && this.frames.length === 0) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.reject(e);
    }
  }
}
