// MSB-first bit writer for the bzip2 encoder (libbzip2 compress.c bsW / bsPutUInt32 / bsFinishWrite).
// Spec: docs/spec/bzip2.md §1 (all fields big-endian, packed MSB-first) and §2.5 (writer design).

/**
 * Bits go into `acc` (at most 7 pending bits between calls plus the new ones, so `n` <= 24 always
 * fits in 32 bits) and whole bytes leave for `out`. Hot loops copy `out`, `pos`, `acc` and `live`
 * into locals and store them back, as sendMTFValues does; the methods are for the cold parts.
 */
export class BitWriter {
  out: Uint8Array;
  /** Next byte to write in `out`. */
  pos = 0;
  /** Pending bits, right-aligned: the low `live` bits of `acc`. */
  acc = 0;
  /** Number of pending bits, 0..7 between calls. */
  live = 0;

  constructor(initialCapacityBytes: number) {
    this.out = new Uint8Array(Math.max(16, initialCapacityBytes));
  }

  /** Total bits written so far, pending ones included. */
  get bitLength(): number {
    return this.pos * 8 + this.live;
  }

  /** Makes room for `moreBytes` bytes beyond the current position (grows by doubling). */
  reserve(moreBytes: number): void {
    const need = this.pos + moreBytes + 8;
    if (need <= this.out.length) return;
    let size = this.out.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.out.subarray(0, this.pos));
    this.out = grown;
  }

  /**
   * Writes the low `n` bits of `v` (n in 0..24). Capacity must have been reserved. bits(0, 0)
   * also flushes the whole bytes a hot loop may have left pending (up to 15 bits).
   */
  bits(n: number, v: number): void {
    let acc = (this.acc << n) | v;
    let live = this.live + n;
    const out = this.out;
    let pos = this.pos;
    while (live >= 8) {
      live -= 8;
      out[pos++] = acc >>> live;
    }
    this.acc = acc & ((1 << live) - 1);
    this.live = live;
    this.pos = pos;
  }

  /** bsPutUInt32: a 32-bit value, most significant byte first. */
  uint32(v: number): void {
    this.bits(16, (v >>> 16) & 0xffff);
    this.bits(16, v & 0xffff);
  }

  /** bsPutUChar */
  byte(v: number): void {
    this.bits(8, v & 0xff);
  }

  /** bsFinishWrite: pads the last partial byte with zero bits. */
  flushToByte(): void {
    if (this.live > 0) {
      this.out[this.pos++] = (this.acc << (8 - this.live)) & 0xff;
      this.acc = 0;
      this.live = 0;
    }
  }

  /** The bytes written so far (call flushToByte first to include pending bits). A view, not a copy. */
  bytes(): Uint8Array {
    return this.out.subarray(0, this.pos);
  }

  /** Starts again at position 0, keeping the buffer. */
  reset(): void {
    this.pos = 0;
    this.acc = 0;
    this.live = 0;
  }
}
