// The compressed input held in memory while streaming: one contiguous, growable buffer addressed by
// absolute byte offsets, so that a block (which may start at any bit) can be decoded from a single
// Uint8Array. Bytes before keepFrom are dropped on the next append. Spec docs/spec/bzip2.md §3.3.

import type { InputView } from './stream-parser.js';

export class ByteWindow {
  private bytes = new Uint8Array(1 << 20);
  /** Absolute offset of bytes[0]. */
  private baseByte = 0;
  /** Valid bytes in `bytes`. */
  private length = 0;
  private keepFrom = 0;
  final = false;

  get endByte(): number {
    return this.baseByte + this.length;
  }

  /** Bytes held that are still needed (from keepFrom to the end). */
  get liveBytes(): number {
    return this.endByte - Math.max(this.keepFrom, this.baseByte);
  }

  /** A view for the parser and the decoder; valid until the next append(). */
  view(): InputView {
    return { bytes: this.bytes, baseByte: this.baseByte, endByte: this.endByte, final: this.final };
  }

  /** Declares that bytes before absolute offset `byte` will not be read again. */
  release(byte: number): void {
    if (byte > this.keepFrom) this.keepFrom = Math.min(byte, this.endByte);
  }

  append(chunk: Uint8Array): void {
    const drop = Math.max(0, this.keepFrom - this.baseByte);
    const live = this.length - drop;
    if (this.length + chunk.length > this.bytes.length) {
      // Make room: move the live bytes to the front, into a bigger buffer if needed.
      const need = live + chunk.length;
      const target = need > this.bytes.length ? new Uint8Array(Math.max(need, this.bytes.length * 2)) : this.bytes;
      if (target === this.bytes) target.copyWithin(0, drop, this.length);
      else target.set(this.bytes.subarray(drop, this.length), 0);
      this.bytes = target;
      this.baseByte += drop;
      this.length = live;
    } else if (drop === this.length && drop > 0) {
      // Nothing live: restart at the front for free.
      this.baseByte += drop;
      this.length = 0;
    }
    this.bytes.set(chunk, this.length);
    this.length += chunk.length;
  }

  /** Copies absolute bytes [from, to) out (for a worker). */
  copy(from: number, to: number): Uint8Array {
    return this.bytes.slice(from - this.baseByte, to - this.baseByte);
  }
}
