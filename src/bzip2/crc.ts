// bzip2's CRC-32 (libbzip2 crctable.c / bzlib_private.h BZ_UPDATE_CRC): polynomial 0x04C11DB7,
// MSB-first (not reflected), init and final XOR 0xFFFFFFFF; check value of "123456789" 0xFC891918.
// Slicing-by-4 over whole spans (spec docs/spec/bzip2.md §1.8).

/** T0[b]: register effect of byte b; Tk[b]: of byte b followed by k zero bytes. */
const T0 = new Int32Array(256);
const T1 = new Int32Array(256);
const T2 = new Int32Array(256);
const T3 = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 24;
  for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
  T0[i] = c;
}
for (let i = 0; i < 256; i++) {
  T1[i] = (T0[i]! << 8) ^ T0[T0[i]! >>> 24]!;
  T2[i] = (T1[i]! << 8) ^ T0[T1[i]! >>> 24]!;
  T3[i] = (T2[i]! << 8) ^ T0[T2[i]! >>> 24]!;
}

export const BZ_CRC_INIT = -1; // 0xFFFFFFFF as an int32 register

/**
 * Folds bytes[from, to) into the running (non-finalised) register `crc` and returns it.
 * Start from BZ_CRC_INIT; finish with bzCrcFinal.
 */
export function bzCrcUpdate(crc: number, bytes: Uint8Array, from: number, to: number): number {
  let c = crc | 0;
  let i = from;
  for (; i + 4 <= to; i += 4) {
    const x = c ^ ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!);
    c = T3[x >>> 24]! ^ T2[(x >>> 16) & 255]! ^ T1[(x >>> 8) & 255]! ^ T0[x & 255]!;
  }
  for (; i < to; i++) c = (c << 8) ^ T0[((c >>> 24) ^ bytes[i]!) & 255]!;
  return c;
}

export function bzCrcFinal(crc: number): number {
  return ~crc >>> 0;
}

/** CRC of a whole buffer, finalised (unsigned 32-bit). */
export function bzCrc(bytes: Uint8Array): number {
  return bzCrcFinal(bzCrcUpdate(BZ_CRC_INIT, bytes, 0, bytes.length));
}

/** The stream CRC: combined = rotl32(combined, 1) ^ blockCrc, in block order, from 0. */
export function bzCombineCrc(combined: number, blockCrc: number): number {
  return (((combined << 1) | (combined >>> 31)) ^ blockCrc) >>> 0;
}

// Both loops of bzCrcUpdate run before anything is timed, often enough for V8 to have allocated
// the function's feedback (it does so lazily, after several calls): optimised (OSR) code compiled
// while only the 4-byte loop had feedback deoptimised at the byte loop on every later call, about
// 1500 times over a 23 MB input.
for (let k = 0; k < 32; k++) bzCrcUpdate(BZ_CRC_INIT, new Uint8Array(7), 0, 7);
